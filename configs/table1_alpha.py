"""Table I: AdaDecay's α ∈ {-1, 1, 2, 4, 8} against constant decay (SGD).

The paper's cells: NN-2 on MNIST and Fashion-MNIST, 50 trials of 100 epochs
(its ResNet-18 / CIFAR-10 row is in cifar_resnet18_ablations.py). Other
models are an override away, e.g. ``--config.models="('nn2','lenet4')"``.
"""

from configs import quickstart

ALPHAS = (-1, 1, 2, 4, 8)


def get_config():
  config = quickstart.get_config()
  config.experiment = 'table1_alpha'
  config.models = ('nn2',)
  config.datasets = ('mnist', 'fashion_mnist')
  config.optimizers = ('sgd',) + tuple(f'adadecay(alpha={a})' for a in ALPHAS)
  config.trials = 50
  config.epochs = 100
  return config
