"""The training harness: real-data runs, resume, configs, CLI errors, devices."""

import importlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest

from conftest import require_test_data
from train import checkpoints, experiment, optimizers, trainer
from train import data as data_lib

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.stem for p in (REPO / 'configs').glob('*.py') if p.stem != '__init__')


def _placeholder(n_train: int, n_test: int) -> data_lib.Dataset:
  """NN-2-sized images, all of class 0: black but for one white training image.

  The white image keeps the channel's std above zero: `Dataset` refuses constant
  channels, which it cannot normalise.
  """
  train_images = np.zeros((n_train, 28, 28, 1), np.uint8)
  train_images[0] = 255
  return data_lib.Dataset(
    name='placeholder',
    train_images=train_images,
    train_labels=np.zeros(n_train, np.int32),
    test_images=np.zeros((n_test, 28, 28, 1), np.uint8),
    test_labels=np.zeros(n_test, np.int32),
    num_classes=10,
    source='placeholder',
  )


def small_config(**overrides):
  from configs import quickstart

  config = quickstart.get_config()
  config.data_dir = str(require_test_data())
  config.trials = 2
  config.epochs = 2
  config.train_subset = 2560  # 20 steps of 128
  config.test_subset = 1000
  config.progress = False
  config.update(overrides)
  return config


@pytest.mark.slow
def test_short_real_data_run_learns(tmp_path):
  written = experiment.run_experiment(small_config(tensorboard=True, theta_every=1), tmp_path)
  for label in ('sgd', 'adadecay'):
    acc = np.asarray(written['runs'][label]['test_accuracy'])
    assert acc.shape == (2, 2)
    # Chance is 10%; 40 steps of SGD on Fashion-MNIST reach ~70%.
    assert acc[:, -1].min() > 0.6, (label, acc)
  # Paired: same seeds for both optimizers, different seeds across trials.
  assert written['runs']['sgd']['seeds'] == [0, 1]
  assert written['runs']['adadecay']['seeds'] == [0, 1]
  # The files the issue asks for, and the table.
  rows = (tmp_path / 'accuracy.csv').read_text().strip().splitlines()
  assert rows[0] == 'run,trial,seed,epoch,test_accuracy,train_loss'
  assert len(rows) == 1 + 2 * 2 * 2
  assert 'fashion-mnist' in written['data_source']
  assert '| ave |' in (tmp_path / 'table.md').read_text()
  # θ diagnostics of the AdaDecay run (every epoch), and TensorBoard files.
  run_dir = tmp_path / 'runs' / 'nn2-fashion_mnist-adadecay'
  theta = json.loads((run_dir / 'theta_statistics.json').read_text())
  assert sorted(theta) == ['1', '2']
  kernel = theta['2']['hidden_layers/0/kernel']
  assert 0 < kernel['theta_mean'] < 2 and kernel['theta_std'] > 0
  np.testing.assert_allclose(kernel['decay_rate_mean'], 5e-4 * kernel['theta_mean'], rtol=1e-5)
  for name in ('theta_histograms.png', 'theta_vs_weight.png'):
    assert (run_dir / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert not (tmp_path / 'runs' / 'nn2-fashion_mnist-sgd' / 'theta_statistics.json').exists()
  for label in ('sgd', 'adadecay'):
    events = list(
      (tmp_path / 'tensorboard' / f'nn2-fashion_mnist-{label}').glob('events.out.tfevents.*')
    )
    assert len(events) == 1 and events[0].stat().st_size > 0


@pytest.mark.slow
def test_shards_merge_into_the_whole(tmp_path):
  from train import report, results  # pylint: disable=g-import-not-at-top

  config = small_config(datasets=('fashion_mnist', 'mnist'), trials=3, epochs=1, train_subset=1280)
  whole = experiment.run_experiment(config, tmp_path / 'whole')
  parts = []
  for i in range(2):
    config.shard = f'{i}/2'
    parts.append(experiment.run_experiment(config, tmp_path / f'shard{i}'))
  # Shard i holds runs i, i + 2: sgd (shard 0) and adadecay (shard 1) of both
  # data sets.
  assert list(parts[0]['runs']) == ['nn2/fashion_mnist/sgd', 'nn2/mnist/sgd']
  assert list(parts[1]['runs']) == ['nn2/fashion_mnist/adadecay', 'nn2/mnist/adadecay']
  merged = results.merge_results(parts)
  assert results.format_table(merged) == results.format_table(whole)
  for label, run in whole['runs'].items():
    assert merged['runs'][label]['vs_baseline'] == run['vs_baseline']
    assert merged['runs'][label]['test_accuracy'] == run['test_accuracy']
  paths = report.make_report([tmp_path / 'shard0', tmp_path / 'shard1'], tmp_path / 'report')
  assert results.format_table(whole) in paths[0].read_text()


@pytest.mark.parametrize('shard', ['1', '2/2', '-1/2', 'a/b', '3/4'])
def test_bad_shard(shard):
  with pytest.raises(ValueError, match='config.shard'):
    experiment.validate(small_config(shard=shard))


def test_cpu_description_names_model_and_vector_extensions(tmp_path, monkeypatch):
  # /proc/cpuinfo repeats a block per core; the first block's fields count.
  block = 'processor\t: {}\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse2 avx avx2 {}\n\n'
  (tmp_path / 'avx512').write_text(block.format(0, 'avx512f avx512bw') + block.format(1, ''))
  (tmp_path / 'avx2').write_text(block.format(0, ''))
  (tmp_path / 'sse').write_text('processor\t: 0\nmodel name\t: Old CPU\nflags\t: fpu sse2\n')
  assert experiment.cpu_description(tmp_path / 'avx512') == 'Test CPU 9000 (AVX-512, AVX2)'
  assert experiment.cpu_description(tmp_path / 'avx2') == 'Test CPU 9000 (AVX2)'
  assert experiment.cpu_description(tmp_path / 'sse') == 'Old CPU'
  monkeypatch.setattr(experiment.platform, 'processor', lambda: 'arm')
  assert experiment.cpu_description(tmp_path / 'missing') == 'arm'


@pytest.mark.slow
def test_resume_is_bit_identical(tmp_path):
  config = small_config(optimizers=('sgd', 'randomized'), epochs=3, train_subset=1280)
  whole = experiment.run_experiment(config, tmp_path / 'whole')
  parts = tmp_path / 'parts'
  # Interrupted three times: mid-run, at a run boundary, and mid-second-run.
  assert experiment.run_experiment(config, parts, stop_after_epochs=2) is None
  assert experiment.run_experiment(config, parts, stop_after_epochs=1) is None
  assert experiment.run_experiment(config, parts, stop_after_epochs=1) is None
  resumed = experiment.run_experiment(config, parts)
  for label in ('sgd', 'randomized'):
    for key in ('test_accuracy', 'train_loss'):
      np.testing.assert_array_equal(resumed['runs'][label][key], whole['runs'][label][key])
  assert (parts / 'accuracy.csv').read_text() == (tmp_path / 'whole' / 'accuracy.csv').read_text()
  # A finished experiment run again trains nothing and gives the same file.
  again = experiment.run_experiment(config, parts, stop_after_epochs=0)
  assert again['runs'] == resumed['runs']


@pytest.mark.slow
def test_checkpoint_every_saves_those_epochs_and_the_last(tmp_path, monkeypatch):
  saved = []
  original = checkpoints.RunCheckpoints.save

  def save(self, epochs_done, carry, history):
    saved.append(epochs_done)
    return original(self, epochs_done, carry, history)

  monkeypatch.setattr(checkpoints.RunCheckpoints, 'save', save)
  config = small_config(optimizers=('sgd',), epochs=5, checkpoint_every=2)
  whole = experiment.run_experiment(config, tmp_path / 'whole')
  assert saved == [2, 4, 5]  # every 2nd epoch, and the last
  saved.clear()
  # A call stopped early saves its last epoch, so nothing is redone.
  parts = tmp_path / 'parts'
  assert experiment.run_experiment(config, parts, stop_after_epochs=3) is None
  assert saved == [2, 3]
  resumed = experiment.run_experiment(config, parts)
  assert saved == [2, 3, 4, 5]
  np.testing.assert_array_equal(
    resumed['runs']['sgd']['test_accuracy'], whole['runs']['sgd']['test_accuracy']
  )


@pytest.mark.parametrize('every', [0, -1])
def test_bad_checkpoint_every(every):
  with pytest.raises(ValueError, match='config.checkpoint_every'):
    experiment.validate(small_config(checkpoint_every=every))


@pytest.mark.slow
def test_entropy_sgd_and_accelerated_sgd_train_by_name(tmp_path):
  config = small_config(
    optimizers=('entropy_sgd', 'accelerated_sgd'), train_subset=3840
  )  # 30 batches: 5 Entropy-SGD updates
  written = experiment.run_experiment(config, tmp_path)
  for label in ('entropy_sgd', 'accelerated_sgd'):
    acc = np.asarray(written['runs'][label]['test_accuracy'])
    assert acc[:, -1].min() > 0.3, (label, acc)  # chance: 0.1
  # Entropy-SGD's update eats 1 + L = 6 minibatches: an epoch is one pass.
  program = trainer.TrialsProgram(
    lambda rngs: experiment.models.get_model('nn2', rngs=rngs),
    lambda key: optimizers.build(
      optimizers.parse('entropy_sgd'), total_steps=10, depth='shallow', key=key
    ),
    _placeholder(3840, 100),
    [0],
    eval_batch_size=100,
    grad_fn_steps=optimizers.grad_fn_steps(optimizers.parse('entropy_sgd')),
  )
  assert (program.steps_per_epoch, program.updates_per_epoch) == (30, 5)


@pytest.mark.slow
def test_several_groups_are_paired_within_each_group(tmp_path):
  config = small_config(datasets=('mnist', 'fashion_mnist'), epochs=1, train_subset=1280, trials=3)
  written = experiment.run_experiment(config, tmp_path)
  assert list(written['runs']) == [
    'nn2/mnist/sgd',
    'nn2/mnist/adadecay',
    'nn2/fashion_mnist/sgd',
    'nn2/fashion_mnist/adadecay',
  ]
  for dataset in ('mnist', 'fashion_mnist'):
    vs = written['runs'][f'nn2/{dataset}/adadecay']['vs_baseline']
    assert vs['baseline_run'] == f'nn2/{dataset}/sgd'
    a = np.asarray(written['runs'][f'nn2/{dataset}/adadecay']['test_accuracy'])
    b = np.asarray(written['runs'][f'nn2/{dataset}/sgd']['test_accuracy'])
    np.testing.assert_allclose(vs['mean'], np.mean(a[:, -1] - b[:, -1]), atol=1e-12)
  table = (tmp_path / 'table.md').read_text()
  assert 'dataset mnist' in table and 'dataset fashion_mnist' in table


@pytest.mark.slow
def test_workdir_with_another_config_is_refused(tmp_path):
  experiment.run_experiment(small_config(epochs=1, train_subset=256), tmp_path)
  with pytest.raises(ValueError, match=r"another config \(fields \['epochs'\]"):
    experiment.run_experiment(small_config(epochs=2, train_subset=256), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS)
def test_every_config_builds_and_runs_one_step(name, tmp_path):
  config = importlib.import_module(f'configs.{name}').get_config()
  runs = experiment.validate(config)  # every run of the full config builds
  assert len(runs) == (
    len(config.models) * len(config.datasets) * len(config.dropout_rates) * len(config.optimizers)
  )
  # One step on the first model and dataset with a tiny subset: of every
  # optimizer / dropout setting for the 28x28 models, of the first optimizer
  # for the CIFAR ones (a ResNet step is slow on CPU). Offline, CIFAR-10 is
  # this project's JPEG copy.
  config.models = config.models[:1]
  config.datasets = tuple(d.replace('cifar10', 'cifar10_jpeg') for d in config.datasets[:1])
  deep = config.datasets[0].startswith('cifar')
  if deep:
    config.optimizers = config.optimizers[:1]
  config.trials, config.epochs = 1, 1
  config.batch_size = 16 if deep else 128
  # Entropy-SGD's one update takes 1 + L = 6 batches.
  config.train_subset = config.batch_size * (
    1 + max(optimizers.grad_fn_steps(optimizers.parse(o)) for o in config.optimizers)
  )
  config.test_subset = 100
  config.eval_batch_size = 100
  config.data_dir = str(require_test_data())
  config.progress = False
  written = experiment.run_experiment(config, tmp_path)
  assert len(written['runs']) == len(config.optimizers) * len(config.dropout_rates)
  for run in written['runs'].values():
    assert 0 <= run['test_accuracy'][0][0] <= 1


@pytest.mark.slow
@pytest.mark.parametrize(
  'override, message',
  [
    ('--config.models=("nope",)', "Unknown model 'nope'"),
    ('--config.optimizers=("adadelta",)', "Unknown optimizer 'adadelta'"),
    ('--config.datasets=("svhn",)', "Unknown dataset 'svhn'"),
    ('--config.optimizers=("adadecay(beta=2)",)', "'beta=2' is not one of"),
    ('--config.models=("resnet18",)', 'takes (32, 32, 3) images'),
    ('--config.trials=0', 'config.trials must be an integer >= 1'),
    ('--config.optimizers=("adadecay(alpha=nan)",)', 'alpha must be a finite'),
    # Mistakes caught while the flags are parsed: an unknown field, a value
    # of the wrong type.
    (
      '--config.trails=3',
      'unknown config field in an override: \'trails\' Did you mean "trials" instead of "trails"?',
    ),
    ('--config.trials=many', '--config.trials=many: invalid literal'),
    # Several processes asked for, none found in the environment.
    ('--distributed', 'error: jax.distributed.initialize: '),
  ],
)
def test_cli_rejects_bad_config_with_a_clear_error(override, message, tmp_path):
  out = subprocess.run(
    [
      sys.executable,
      '-m',
      'train',
      '--config',
      'configs/quickstart.py',
      '--workdir',
      str(tmp_path),
      override,
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert out.returncode == 2, out.stderr[-2000:]
  assert message in out.stderr, out.stderr[-2000:]
  assert 'Traceback' not in out.stderr
  assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_optimizer_labels_parse():
  spec = optimizers.parse('adadecay(alpha=8, weight_decay=1e-3)')
  assert spec == optimizers.OptimizerSpec('adadecay', weight_decay=1e-3, alpha=8.0)
  with pytest.raises(ValueError, match='needs a number'):
    optimizers.parse('sgd(weight_decay=big)')
  with pytest.raises(ValueError, match='alpha given twice'):
    optimizers.parse('adadecay(alpha=8,alpha=4)')
  with pytest.raises(ValueError, match='sgd has no alpha'):
    optimizers.parse('sgd(alpha=8)')
  with pytest.raises(ValueError, match='learning_rate must be >= 0'):
    optimizers.parse('adam(learning_rate=-1)')
  assert (
    optimizers.canonical_label(' adadecay( alpha = 8,weight_decay=1e-3 )')
    == 'adadecay(alpha=8, weight_decay=1e-3)'
  )
  # The same settings spelled twice are one run.
  from configs import quickstart

  config = quickstart.get_config()
  config.optimizers = ('adadecay', 'adadecay(alpha=4)')
  with pytest.raises(ValueError, match='same run twice'):
    experiment.validate(config)


@pytest.mark.slow
def test_failed_start_leaves_the_workdir_free(tmp_path):
  # No data there: the run fails before training and claims nothing.
  with pytest.raises(experiment.data_lib.DataError):
    experiment.run_experiment(small_config(data_dir=str(tmp_path / 'none')), tmp_path / 'w')
  assert not (tmp_path / 'w' / 'config.json').exists()
  # Fields that do not change results may differ on resume.
  config = small_config(epochs=1, train_subset=256)
  experiment.run_experiment(config, tmp_path / 'w')
  config.eval_batch_size, config.tensorboard = 500, True
  again = experiment.run_experiment(config, tmp_path / 'w')
  assert again['runs']['sgd']['trials'] == 2


_SHARDED = textwrap.dedent("""
    import sys, jax, numpy as np
    from train import trainer, models, optimizers
    from train import data as data_lib
    assert jax.device_count() == 8
    ds = data_lib.load('mnist', sys.argv[1])
    data = ds.subset(1024, 500)
    def program(devices):
      return trainer.TrialsProgram(
          lambda rngs: models.get_model('nn2', rngs=rngs),
          lambda key: optimizers.build(optimizers.parse('randomized'),
                                       total_steps=16, depth='shallow',
                                       key=key),
          data, list(range(8)), eval_batch_size=500, devices=devices)
    out = {}
    for name, devices in (('one', jax.devices()[:1]), ('eight', None)):
      p = program(devices)
      carry = p.init()
      for epoch in range(2):
        carry, loss, acc = p.run_epoch(carry, epoch)
      out[name] = (np.asarray(loss), np.asarray(acc))
      if name == 'eight':
        assert len(carry.params['head']['kernel'].sharding.device_set) == 8
    np.testing.assert_allclose(out['one'][0], out['eight'][0], rtol=1e-6)
    np.testing.assert_array_equal(out['one'][1], out['eight'][1])
    print('ok', out['one'][1])
""")


@pytest.mark.slow
def test_trials_sharded_over_8_cpu_devices_match_one_device():
  env = dict(
    os.environ,
    JAX_PLATFORMS='cpu',
    XLA_FLAGS=(
      os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=8'
    ).strip(),
  )
  out = subprocess.run(
    [sys.executable, '-c', _SHARDED, str(require_test_data())],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.startswith('ok')


def _snapshot(directory):
  """Every path under directory with its size, mtime and bytes."""
  return {
    str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
    for p in sorted(directory.rglob('*'))
  }


def test_checkpoint_of_another_optimizer_state_is_refused_by_name(tmp_path, monkeypatch):
  config = small_config(optimizers=('sgd',), train_subset=256)
  real_build = optimizers.build
  # The checkpoint is written by an SGD without momentum (no trace state)...
  monkeypatch.setattr(
    optimizers,
    'build',
    lambda spec, **kw: optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(lambda step: 0.1)),
  )
  assert experiment.run_experiment(config, tmp_path, stop_after_epochs=1) is None
  before = _snapshot(tmp_path)
  # ... and resumed by the harness's SGD, which has momentum.
  monkeypatch.setattr(optimizers, 'build', real_build)
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    experiment.run_experiment(config, tmp_path)
  message = str(error.value)
  assert (
    'only in the program: opt_state/1/0/trace/head/bias,'
    ' opt_state/1/0/trace/head/kernel,'
    ' opt_state/1/0/trace/hidden_layers/0/bias,'
    ' opt_state/1/0/trace/hidden_layers/0/kernel,'
    ' opt_state/1/0/trace/hidden_layers/1/bias,'
    ' opt_state/1/0/trace/hidden_layers/1/kernel.' in message
  ), message
  assert 'only in the checkpoint' not in message and 'differs' not in message
  assert "run 'nn2 / fashion_mnist sgd' (epoch 1" in message
  assert _snapshot(tmp_path) == before


def test_checkpoint_of_another_model_is_refused_by_name(tmp_path, monkeypatch):
  config = small_config(optimizers=('sgd',), train_subset=256)
  assert experiment.run_experiment(config, tmp_path, stop_after_epochs=1) is None
  before = _snapshot(tmp_path)
  # The model gained a layer: NN-3 is NN-2 with a third hidden layer.
  get_model = experiment.models.get_model
  monkeypatch.setattr(experiment.models, 'get_model', lambda name, **kw: get_model('nn3', **kw))
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    experiment.run_experiment(config, tmp_path)
  message = str(error.value)
  assert (
    'only in the program: params/hidden_layers/2/bias,'
    ' params/hidden_layers/2/kernel,'
    ' opt_state/1/0/trace/hidden_layers/2/bias,'
    ' opt_state/1/0/trace/hidden_layers/2/kernel.' in message
  ), message
  assert 'only in the checkpoint' not in message and 'differs' not in message
  assert _snapshot(tmp_path) == before
  # A layer of another width: the shapes are named, per trial.
  monkeypatch.setattr(
    experiment.models, 'get_model', lambda name, **kw: get_model(name, num_classes=12, **kw)
  )
  with pytest.raises(
    checkpoints.CheckpointMismatchError,
    match=r'per-trial shape or dtype differs: params/head/bias'
    r' \(checkpoint \(10,\) float32, program \(12,\) float32\)',
  ):
    experiment.run_experiment(config, tmp_path)
  assert _snapshot(tmp_path) == before


def test_checkpoint_of_the_earlier_layout_restores(tmp_path):
  # Earlier versions stored the carry's leaves by index ('00000', ...).
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  program = trainer.TrialsProgram(
    lambda rngs: experiment.models.get_model('nn2', rngs=rngs),
    lambda key: optimizers.build(
      optimizers.parse('adadecay'), total_steps=10, depth='shallow', key=key
    ),
    _placeholder(128, 100),
    [3, 4],
    eval_batch_size=100,
  )
  carry = program.init()
  history = {
    'test_accuracy': np.full((2, 3), 0.5, np.float32),
    'train_loss': np.ones((2, 3), np.float32),
  }
  manager = ocp.CheckpointManager(tmp_path)
  manager.save(
    2,
    args=ocp.args.StandardSave(
      {'carry': {f'{i:05d}': x for i, x in enumerate(jax.tree.leaves(carry))}, 'history': history}
    ),
  )
  manager.wait_until_finished()
  manager.close()
  ckpt = checkpoints.RunCheckpoints(tmp_path)
  restored, restored_history = ckpt.restore(program.abstract_carry(), (2, 3), 'run')
  ckpt.close()
  assert jax.tree.structure(restored) == jax.tree.structure(carry)
  for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(carry)):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(restored_history['test_accuracy'], 0.5)


_PADDED = textwrap.dedent("""
    import sys, jax, numpy as np
    from train import checkpoints, experiment, trainer, models, optimizers
    from train import data as data_lib
    assert jax.device_count() == 2
    ds = data_lib.load('mnist', sys.argv[1])
    data = ds.subset(1024, 500)
    def program(seeds, devices):
      return trainer.TrialsProgram(
          lambda rngs: models.get_model('nn2', rngs=rngs),
          lambda key: optimizers.build(optimizers.parse('randomized'),
                                       total_steps=16, depth='shallow',
                                       key=key),
          data, seeds, eval_batch_size=500, devices=devices)
    out, carries = {}, {}
    for name, seeds, devices in (('three_on_two', [0, 1, 2], None),
                                 ('four_on_two', [0, 1, 2, 3], None),
                                 ('three_on_one', [0, 1, 2], jax.devices()[:1])):
      p = program(seeds, devices)
      carry = p.init()
      for epoch in range(2):
        carry, loss, acc = p.run_epoch(carry, epoch)
      out[name] = (loss, acc)
      carries[name] = (p, carry)
    p, carry = carries['three_on_two']
    assert p.num_padded == 4 and out['three_on_two'][1].shape == (3,)
    assert len(carry.params['head']['kernel'].sharding.device_set) == 2
    assert p.trial_values(carry.params['head']['bias']).shape == (3, 10)
    # The same program as four trials on two devices: bit-identical.
    for a, b in zip(out['three_on_two'], out['four_on_two']):
      np.testing.assert_array_equal(a, b[:3])
    # Another per-device batch (3 on one device): accuracies equal.
    np.testing.assert_allclose(out['three_on_two'][0], out['three_on_one'][0],
                               rtol=1e-6)
    np.testing.assert_array_equal(out['three_on_two'][1],
                                  out['three_on_one'][1])
    # A checkpoint of the padded carry resumes on one device (no padding).
    ckpt = checkpoints.RunCheckpoints(__import__('pathlib').Path(sys.argv[2]))
    history = {k: np.zeros((3, 2), np.float32)
               for k in ('test_accuracy', 'train_loss')}
    ckpt.save(2, carry, history)
    p1, c1 = carries['three_on_one']
    restored, _ = ckpt.restore(p1.abstract_carry(), (3, 2), 'run')
    assert restored.params['head']['kernel'].shape[0] == 3
    data = lambda x: np.asarray(
        jax.random.key_data(x)
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(carry)):
      np.testing.assert_array_equal(data(a), data(b)[:3])
    print('ok', out['three_on_two'][1])
""")


@pytest.mark.slow
def test_trials_padded_to_the_device_count_match_unpadded(tmp_path):
  # 3 trials on 2 devices run as 4 (the 4th a padding trial) on both, not as
  # 3 on the first device.
  env = dict(
    os.environ,
    JAX_PLATFORMS='cpu',
    XLA_FLAGS=(
      os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=2'
    ).strip(),
  )
  out = subprocess.run(
    [sys.executable, '-c', _PADDED, str(require_test_data()), str(tmp_path / 'ckpt')],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.startswith('ok')
