"""The CIFAR-10 / ResNet-18 parts of Table I (α), Table II (θ) and Fig. 1 (λ):
one config, every column a run; 32 trials of 100 epochs with augmentation.

Run a part alone with an override, e.g. Table I:
  --config.optimizers="('sgd','adadecay(alpha=-1)','adadecay(alpha=1)',
                        'adadecay(alpha=2)','adadecay(alpha=4)','adadecay(alpha=8)')"
"""

from configs import fig1_lambda, quickstart, table1_alpha


def get_config():
  config = quickstart.get_config()
  config.experiment = 'cifar_resnet18_ablations'
  config.models = ('resnet18',)
  config.datasets = ('cifar10',)
  alphas = tuple(
    f'adadecay(alpha={a})' for a in table1_alpha.ALPHAS if a != 4
  )  # α = 4 is plain 'adadecay'
  lambdas = tuple(
    f'{name}(weight_decay={wd:g})'
    for wd in fig1_lambda.WEIGHT_DECAYS
    if wd != 5e-4
    for name in ('sgd', 'adadecay')
  )
  config.optimizers = ('sgd', 'randomized', 'adadecay') + alphas + lambdas
  config.trials = 32
  config.epochs = 100
  config.augment = True
  return config
