"""AdaDecay: adaptive weight decay (Nakamura & Hong, 2019) for optax.

The library needs only jax, optax and chex. Typical use::

  import optax
  from adadecay_optax import adadecay, sigmoid_decay_schedule

  tx = optax.chain(adadecay(weight_decay=5e-4, alpha=4.0),
                   optax.sgd(learning_rate=0.1, momentum=0.9))
"""

from adadecay_optax.adadecay import AdaDecayState
from adadecay_optax.adadecay import adadecay
from adadecay_optax.adadecay import adadecay_sgd
from adadecay_optax.adadecay import adadecay_theta
from adadecay_optax.adadecay import randomized_decay
from adadecay_optax.adadecay import RandomizedDecayState
from adadecay_optax.adadecay import sgd_with_weight_decay
from adadecay_optax.accelerated_sgd import AcceleratedSGDState
from adadecay_optax.accelerated_sgd import accelerated_sgd
from adadecay_optax.entropy_sgd import EntropySGDState
from adadecay_optax.entropy_sgd import entropy_sgd
from adadecay_optax.schedules import sigmoid_decay_schedule

__version__ = '0.1.0'

__all__ = [
  'AcceleratedSGDState',
  'AdaDecayState',
  'EntropySGDState',
  'RandomizedDecayState',
  'accelerated_sgd',
  'adadecay',
  'adadecay_sgd',
  'adadecay_theta',
  'entropy_sgd',
  'randomized_decay',
  'sgd_with_weight_decay',
  'sigmoid_decay_schedule',
]
