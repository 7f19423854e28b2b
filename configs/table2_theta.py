"""Table II: constant decay vs randomized θ (eq. 13) vs AdaDecay's θ.

50 trials of 100 epochs on the 28x28 models, as the paper.
"""

from configs import quickstart


def get_config():
  config = quickstart.get_config()
  config.experiment = 'table2_theta'
  config.models = ('nn2', 'nn3', 'lenet4', 'vgg9')
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = ('sgd', 'randomized', 'adadecay')
  config.trials = 50
  config.epochs = 100
  return config
