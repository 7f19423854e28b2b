"""Many processes (jax.distributed): two CPU processes on 127.0.0.1.

Each process has one CPU device; the reference is one process with two, so
both shard the 3 trials (padded to 4) as 2 per device and must give the same
numbers bit for bit.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import require_test_data

REPO = pathlib.Path(__file__).resolve().parents[1]
TIMEOUT = 900


def _command(workdir, *flags):
  return [
    sys.executable,
    '-m',
    'train',
    '--config',
    'configs/quickstart.py',
    '--workdir',
    str(workdir),
    '--config.optimizers=("adadecay",)',
    '--config.trials=3',
    '--config.epochs=3',
    '--config.train_subset=512',
    '--config.test_subset=500',
    '--config.eval_batch_size=500',
    f'--config.data_dir={require_test_data()}',
    '--config.progress=False',
    '--config.theta_every=1',
    '--config.tensorboard=True',
    *flags,
  ]


def _env(devices):
  flags = os.environ.get('XLA_FLAGS', '')
  return dict(
    os.environ,
    JAX_PLATFORMS='cpu',
    XLA_FLAGS=(f'{flags} --xla_force_host_platform_device_count={devices}').strip(),
  )


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.fixture(name='start')
def _start_fixture():
  """start(command, env) -> Popen; whatever still runs is killed at the end."""
  started = []

  def start(command, env):
    started.append(
      subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
      )
    )
    return started[-1]

  yield start
  for p in started:
    if p.poll() is None:
      p.kill()
      p.communicate()


def _start_two(start, workdir):
  address = f'127.0.0.1:{_free_port()}'
  return [
    start(
      _command(
        workdir, f'--coordinator_address={address}', '--num_processes=2', f'--process_id={i}'
      ),
      _env(1),
    )
    for i in range(2)
  ]


def _finish(procs):
  outs = [p.communicate(timeout=TIMEOUT) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  return outs


def _runs(workdir):
  return json.loads((workdir / 'results.json').read_text())['runs']


@pytest.mark.slow
def test_two_processes_match_one_and_resume_after_a_kill(tmp_path, start):
  one = start(_command(tmp_path / 'one'), _env(2))
  two = _start_two(start, tmp_path / 'two')
  _finish([one])
  (out0, _), (out1, _) = _finish(two)
  # Process 0 prints the table and writes the files; process 1 no table.
  assert '| ave |' in out0 and 'results:' in out0
  assert '| ave |' not in out1 and 'results:' not in out1
  expected = (tmp_path / 'one' / 'accuracy.csv').read_text()
  assert len(expected.splitlines()) == 1 + 3 * 3  # trials x epochs
  assert (tmp_path / 'two' / 'accuracy.csv').read_text() == expected
  assert _runs(tmp_path / 'two') == _runs(tmp_path / 'one')
  machine = json.loads((tmp_path / 'two' / 'results.json').read_text())['machine']
  assert machine.startswith('2 x cpu (cpu) in 2 processes'), machine
  theta = 'runs/nn2-fashion_mnist-adadecay/theta_statistics.json'
  assert (tmp_path / 'two' / theta).read_text() == (tmp_path / 'one' / theta).read_text()
  assert len(list((tmp_path / 'two' / 'tensorboard').glob('*/events.*'))) == 1

  # Killed once the first epoch is checkpointed, then started again: the
  # same numbers.
  killed = tmp_path / 'killed'
  procs = _start_two(start, killed)
  checkpoint = killed / 'runs' / 'nn2-fashion_mnist-adadecay' / '1'
  deadline = time.monotonic() + TIMEOUT
  while not checkpoint.is_dir():
    assert all(p.poll() is None for p in procs), procs[0].stderr.read()[-3000:]
    assert time.monotonic() < deadline
    time.sleep(0.05)
  procs[1].send_signal(signal.SIGKILL)
  procs[0].send_signal(signal.SIGKILL)  # as a scheduler ends the job
  for p in procs:
    p.communicate(timeout=TIMEOUT)
  assert not (killed / 'results.json').exists()
  procs = _start_two(start, killed)
  (_, err0), _ = _finish(procs)
  assert 'nn2 / fashion_mnist adadecay: resuming after epoch' in err0
  assert (killed / 'accuracy.csv').read_text() == expected
  assert _runs(killed) == _runs(tmp_path / 'one')
