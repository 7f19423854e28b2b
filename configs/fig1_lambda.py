"""Fig. 1: accuracy against the decay rate λ from 1e-3 to 1e-4, SGD with
constant decay vs AdaDecay; 50 trials of 100 epochs.

The paper's cells: NN-2 on MNIST and Fashion-MNIST (its ResNet-18 / CIFAR-10
panel is in cifar_resnet18_ablations.py). Other models are an override
away, e.g. ``--config.models="('nn2','lenet4')"``.
"""

from configs import quickstart

WEIGHT_DECAYS = (1e-3, 5e-4, 2e-4, 1e-4)


def get_config():
  config = quickstart.get_config()
  config.experiment = 'fig1_lambda'
  config.models = ('nn2',)
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = tuple(
    f'{name}(weight_decay={wd:g})' for wd in WEIGHT_DECAYS for name in ('sgd', 'adadecay')
  )
  config.trials = 50
  config.epochs = 100
  return config
