"""Table II: constant decay vs randomized θ (eq. 13) vs AdaDecay's θ.

The paper's cells: NN-2 on MNIST and Fashion-MNIST, 50 trials of 100 epochs
(its ResNet-18 / CIFAR-10 column is in cifar_resnet18_ablations.py). Other
models are an override away, e.g. ``--config.models="('nn2','lenet4')"``.
"""

from configs import quickstart


def get_config():
  config = quickstart.get_config()
  config.experiment = 'table2_theta'
  config.models = ('nn2',)
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = ('sgd', 'randomized', 'adadecay')
  config.trials = 50
  config.epochs = 100
  return config
