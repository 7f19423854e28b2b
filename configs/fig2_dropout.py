"""Fig. 2: accuracy against the dropout rate P ∈ {0, 2^-4, 2^-3, 2^-2},
SGD with constant decay vs AdaDecay, LeNet-4; 50 trials of 100 epochs.
"""

from configs import quickstart


def get_config():
  config = quickstart.get_config()
  config.experiment = 'fig2_dropout'
  config.models = ('lenet4',)
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = ('sgd', 'adadecay')
  config.dropout_rates = (0.0, 2**-4, 2**-3, 2**-2)
  config.trials = 50
  config.epochs = 100
  return config
