"""Training over several processes (torch.distributed, gloo on the CPU): K processes are the one-process run.

Three launches of two processes each (a few seconds apiece): every method's gradients and
weights, the naive local-batch switch, and a run killed and restarted.
"""

from __future__ import annotations

import math

import pytest
import torch
from resume_helpers import kill_at

from wisetut import distributed
from wisetut.data import make_sine_waves
from wisetut.engine import train
from wisetut.methods import AEVB, WAEGAN, WAEMMD, BetaVAE, NonparametricVAE, WiSE, WiSEVariant
from wisetut.models import mlp_autoencoder, sine_autoencoder
from wisetut.models.wae_mnist import wae_mnist_autoencoder

M = 8  # the global batch: two processes of m = 4
KW = dict(batch_size=M, lr=1e-3, seed=3, progress=False, device="cpu")


def _digits(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


# name: (network, method, data): every method, batch norm (the WAE paper's networks) and dropout (the npvae's MLP)
CASES = {
    "aevb": (sine_autoencoder, AEVB, make_sine_waves),
    "beta_vae": (sine_autoencoder, BetaVAE, make_sine_waves),
    "wise": (sine_autoencoder, WiSE, make_sine_waves),
    "wae_mmd": (sine_autoencoder, WAEMMD, make_sine_waves),
    "wae_gan": (sine_autoencoder, lambda: WAEGAN(hidden=32, layers=2), make_sine_waves),
    "npvae": (lambda: mlp_autoencoder(4), lambda: NonparametricVAE(hidden=(64, 64)), _digits),
    "wise_batchnorm": (lambda: wae_mnist_autoencoder(2, filters=16), WiSE, _digits),
}


def _data(case: str, n: int, seed: int) -> torch.Tensor:
    make = CASES[case][2]
    return make(n, seed=seed).x if make is make_sine_waves else make(n, seed)


def _run(case: str, n_train: int, epochs: int, **kw):
    network, method, _ = CASES[case]
    torch.manual_seed(0)
    return train(network(), method(), _data(case, n_train, 0), _data(case, M, 1), epochs=epochs, **{**KW, **kw})


def _grads(run) -> torch.Tensor:
    """Every gradient of the last step (the engine leaves them in ``.grad``), flattened."""
    params = [*run.model.parameters(), *run.method.parameters()]
    return torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel()) for p in params])


def _states(run) -> dict:
    return {
        **{f"model.{k}": v.clone() for k, v in run.model.state_dict().items()},
        **{f"method.{k}": v.clone() for k, v in run.method.state_dict().items()},
    }


def _reconstruct(run, case: str) -> torch.Tensor:
    """Held-out reconstructions in training mode: batch statistics, dropout from a fixed seed.

    (In evaluation mode a batch norm subtracts its running mean, which has averaged in the bias
    before it: one of the parameters of NULL_GRADIENT, so the two runs' evaluation outputs differ
    by about 1e-3 there, as two one-process runs in different summation orders would.)
    """
    run.model.train()
    torch.manual_seed(0)
    return run.model.reconstruct(_data(case, M, 1))


def _compare_worker(rank: int, out: str) -> None:
    """Each case once as one step from the initial weights and once as six steps; then local_kl."""
    results = {}
    for case in CASES:
        one = _run(case, M, 1)
        six = _run(case, 3 * M, 2)
        results[case] = {
            "grads": _grads(one),
            "state": _states(six),
            "history": six.history.as_dict(),
            "recon": _reconstruct(six, case),
        }
    long = _run("wise", 3 * M, 3)
    results["wise_3_epochs"] = {"state": _states(long)}
    distributed.setup(local_kl=True)
    for case in ("aevb", "wise"):
        results[f"{case}_local_kl"] = {"grads": _grads(_run(case, M, 1))}
    distributed.setup(local_kl=False)
    try:
        train(sine_autoencoder(), WiSEVariant(), _data("wise", M, 0), _data("wise", M, 1), epochs=1, **KW)
    except ValueError as e:
        results["variant_error"] = str(e)
    results["shard"] = distributed.current()
    if rank == 0:
        torch.save(results, out)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "results.pt"
    distributed.run_local(_compare_worker, 2, str(out))
    return torch.load(out, weights_only=False)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


# Relative distance allowed between the two float32 gradients. Batch norm's backward amplifies rounding:
# this network's float32 gradient is itself 9e-7 from its float64 value (measured), so two summation
# orders (one batch of 8, two of 4) agree to about 1e-6 there; every other case agrees to about 1e-7.
GRADIENT_TOLERANCE = {"wise_batchnorm": 5e-6}


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_process_gradient_is_the_one_process_gradient(two_processes, case):
    one_process = _grads(_run(case, M, 1))
    assert one_process.norm() > 0
    assert _relative(two_processes[case]["grads"], one_process) < GRADIENT_TOLERANCE.get(case, 1e-6)


# Parameters whose exact gradient is zero: the last bias of the npvae's locator (X is only compared by
# differences), its sigma (which cancels from Eq. 6), and every bias just before a batch norm. Their
# computed gradient is rounding noise, which Adam scales to steps of +-lr in either summation order, so
# they cannot agree between runs; they do not change the model's function.
NULL_GRADIENT = {
    "npvae": {"method.locator.1.6.bias", "method.log_sigma"},
    "wise_batchnorm": {f"model.encoder.{i}.bias" for i in (0, 3, 6, 9)} | {"model.decoder.3.bias", "model.decoder.6.bias"},
}
# ... and the running mean of the batch norm after each such bias, which averages that bias in
AVERAGES_A_NULL_BIAS = {
    "wise_batchnorm": {f"model.encoder.{i}.running_mean" for i in (1, 4, 7, 10)}
    | {"model.decoder.4.running_mean", "model.decoder.7.running_mean"},
}


@pytest.mark.parametrize("case", sorted(NULL_GRADIENT))
def test_the_parameters_left_out_of_the_weight_comparison_have_no_gradient(case):
    run = _run(case, M, 1)
    named = {
        **{f"model.{k}": p for k, p in run.model.named_parameters()},
        **{f"method.{k}": p for k, p in run.method.named_parameters()},
    }
    largest = max(p.grad.norm() for p in named.values())
    assert {k for k, p in named.items() if p.grad.norm() < 2e-7 * largest} == NULL_GRADIENT[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_process_weights_after_six_steps_are_the_one_process_weights(two_processes, case):
    run = _run(case, 3 * M, 2)
    single, double = _states(run), two_processes[case]["state"]
    assert single.keys() == double.keys()  # the same state dict: the checkpoints are interchangeable
    for k, v in single.items():
        if k in NULL_GRADIENT.get(case, set()) | AVERAGES_A_NULL_BIAS.get(case, set()):
            continue
        if v.is_floating_point():  # Adam's six steps of lr = 1e-3 each, agreeing to 1% of one step
            torch.testing.assert_close(double[k], v, rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}")
        else:
            assert torch.equal(double[k], v), k  # batch norm's counters
    # the function itself, every parameter included: held-out reconstructions
    torch.testing.assert_close(two_processes[case]["recon"], _reconstruct(run, case), rtol=1e-4, atol=1e-5)
    # Held-out metrics run in evaluation mode (see _reconstruct): with batch norm they move by a few
    # percent of a tiny KL (0.0083 against 0.0085 nats after six steps), as much as one process run
    # with 1 and with 2 threads moves them (0.0085 against 0.0084, measured).
    for split in ("train", "test"):
        tol = 5e-2 if split == "test" and case in AVERAGES_A_NULL_BIAS else 1e-4
        for key, values in run.history.as_dict()[split].items():
            theirs = two_processes[case]["history"][split][key]
            assert all(math.isclose(a, b, rel_tol=tol, abs_tol=1e-6) for a, b in zip(theirs, values)), (
                split,
                key,
                theirs,
                values,
            )


def test_local_kl_changes_wise_ale_and_not_aevb(two_processes):
    assert _relative(two_processes["wise_local_kl"]["grads"], two_processes["wise"]["grads"]) > 1e-3
    assert torch.equal(two_processes["aevb_local_kl"]["grads"], two_processes["aevb"]["grads"])


def test_a_method_that_cannot_split_its_batch_is_refused(two_processes):
    assert "WiSEVariant" in two_processes["variant_error"] and "one process" in two_processes["variant_error"]
    assert two_processes["shard"] == distributed.Shard(0, 2, local_kl=False)


def _kill_worker(rank: int, ckpt: str) -> None:
    _run("wise", 3 * M, 3, checkpoint=ckpt, on_step=kill_at(1, 1))


def _resume_worker(rank: int, ckpt: str, out: str) -> None:
    run = _run("wise", 3 * M, 3, checkpoint=ckpt)
    torch.save({"resumed_from_epoch": run.resumed_from_epoch, "state": _states(run)}, f"{out}.{rank}")


def test_killed_two_process_run_resumes_and_one_process_loads_it(two_processes, tmp_path):
    ckpt = tmp_path / "wise.pt"
    with pytest.raises(Exception, match="Interrupt"):
        distributed.run_local(_kill_worker, 2, str(ckpt))
    assert ckpt.exists()  # rank 0 wrote the first epoch
    distributed.run_local(_resume_worker, 2, str(ckpt), str(tmp_path / "resumed"))
    ranks = [torch.load(tmp_path / f"resumed.{r}", weights_only=False) for r in range(2)]
    assert [r["resumed_from_epoch"] for r in ranks] == [1, 1]  # every rank resumed from rank 0's checkpoint
    uninterrupted = two_processes["wise_3_epochs"]["state"]
    for r in ranks:
        for k, v in uninterrupted.items():
            assert torch.equal(r["state"][k], v), k
    # one process: the same fingerprint, so it loads the finished two-process run instead of training it
    loaded = _run("wise", 3 * M, 3, checkpoint=ckpt)
    assert loaded.resumed_from_epoch == 3
    for k, v in uninterrupted.items():
        assert torch.equal(_states(loaded)[k], v), k


def test_local_kl_checkpoint_is_not_a_global_one():
    shard = distributed.Shard(0, 2, local_kl=True)
    assert shard.fingerprint(M) == {"local_kl": True, "local_batch": 4}
    assert distributed.Shard(0, 2).fingerprint(M) == {} and distributed.Shard(0, 1, True).fingerprint(M) == {}
    assert shard.rows(M) == slice(0, 4) and distributed.Shard(1, 2).rows(M) == slice(4, 8)
    with pytest.raises(ValueError, match="multiple of 3"):
        distributed.Shard(0, 3).rows(M)


def test_one_process_helpers_are_the_plain_operations():
    x = torch.randn(5, 3)
    assert distributed.coupled(x) is x and distributed.gather(x) is x and distributed.own(x) is x
    torch.manual_seed(1)
    a = distributed.normal_like(x)
    torch.manual_seed(1)
    assert torch.equal(a, torch.randn_like(x))
