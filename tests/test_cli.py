"""The command line: `python -m wisetut list` and `train`, whose runs the chapters then load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from notebook_calls import BOOK, notebook_calls

from wisetut.cli import main, run_command
from wisetut.engine import train
from wisetut.experiments import checkpoint_path, train_methods
from wisetut.runs import experiment

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def quick(monkeypatch, tmp_path):
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


def test_help_explains_itself():
    out = run_command(["--help"], env={"PYTHONPATH": str(ROOT)})
    assert "list" in out and "train" in out and "torchrun" in out


def test_a_failed_command_says_why():
    with pytest.raises(RuntimeError, match=r"exited 2:\n(.|\n)*invalid choice: 'cifar'"):
        run_command(["train", "cifar"], env={"PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "cifar"], "invalid choice: 'cifar' (choose from 'sine', 'sine_annealed', 'mnist'"),
        (["train", "sine", "--methods", "vae"], "sine has no run 'vae': expected some of aevb, beta_vae_1.5"),
        (["train", "sine", "--seeds", "-1"], "argument --seeds: expected a seed (an integer >= 0), got '-1'"),
        (["train", "sine", "--seeds", "x"], "argument --seeds: expected a seed (an integer >= 0), got 'x'"),
        (["train", "sine", "--workers", "0"], "argument --workers: expected a number of processes (an integer >= 1), got '0'"),
        (["train", "sine", "--device", "gpu"], "device must be 'cpu' or 'cuda' (or 'cuda:N'), got 'gpu'"),
        (["train", "sine", "--device", "tpu"], "device must be 'cpu' or 'cuda' (or 'cuda:N'), got 'tpu'"),
        (["list", "--profile", "huge"], "invalid choice: 'huge' (choose from 'quick', 'standard', 'paper')"),
        (["list", "cifar"], "unknown experiment 'cifar': expected some of sine, sine_annealed, mnist"),
        ([], "required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_and_name_the_choices(quick, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_trained_from_the_command_line_then_loaded_by_the_chapter(quick, capsys, monkeypatch):
    assert main(["train", "sine", "--profile", "quick", "--methods", "wise", "--seeds", "0", "--no-progress"]) == 0
    assert checkpoint_path("sine", "wise", 0).is_file()
    main(["list", "sine"])
    assert "wise               seed 0   trained  2/2 epochs" in capsys.readouterr().out
    # the chapter's own call (chapter 4's cells, recorded), for that run: loaded, not trained
    monkeypatch.chdir(BOOK)
    call = next(c for c in notebook_calls("04_sine_waves") if c["experiment"] == "sine")
    runs = train_methods(
        "sine",
        call["model_fn"],
        {"wise": call["methods"]["wise"]},
        call["train_x"],
        call["test_x"],
        call["settings"],
        seed=0,
        device="cpu",
        progress=False,
    )
    assert runs["wise"].resumed_from_epoch == call["settings"].epochs == 2


def test_a_partial_run_is_listed_and_resumed(quick, capsys):
    (c,) = [c for c in experiment("sine").calls(["aevb"])]
    train(
        c.model_fn(c.settings.latent_dim),
        c.methods["aevb"],
        c.train_x,
        c.test_x,
        epochs=1,
        batch_size=c.settings.batch_size,
        lr=c.settings.lr,
        seed=0,
        checkpoint=checkpoint_path("sine", "aevb", 0),
        progress=False,
        device="cpu",
    )  # the first of its two epochs (epochs are not part of the fingerprint)
    main(["list", "sine", "--seeds", "0", "1"])
    out = capsys.readouterr().out
    assert "aevb               seed 0   partial  1/2 epochs" in out and "aevb               seed 1   missing  0/2 epochs" in out
    assert "12 runs, 0 trained, 1 partial, 11 missing" in out
    assert main(["train", "sine", "--methods", "aevb", "--seeds", "0", "--no-progress"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("aevb"))
    assert row.split()[:4] == ["aevb", "0", "2", "1"]  # run, seed, epochs, resumed from epoch 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_one_line(quick, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "sine", "--device", "cuda"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "device 'cuda' asked for, but this machine has no CUDA GPU" in err
    assert "Traceback" not in err


def test_an_output_dir_that_is_a_file_is_one_line(quick, capsys):
    (quick / "afile").write_text("")
    for argv in (["list"], ["train", "sine"]):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--output-dir", str(quick / "afile")])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "afile is a file, not a folder" in err and "Traceback" not in err


def test_a_damaged_checkpoint_is_named_by_train_and_listed_by_list(quick, capsys):
    path = checkpoint_path("sine", "aevb", 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")
    assert main(["train", "sine", "--methods", "aevb", "--seeds", "0", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read checkpoint {path}" in err and "delete it" in err and "Traceback" not in err
    assert path.read_bytes() == b"not a checkpoint"  # left as it was
    assert main(["list", "sine", "--seeds", "0", "1"]) == 0  # goes on past it
    out = capsys.readouterr().out
    assert "aevb               seed 0   damaged  cannot read checkpoint" in out and "delete it to train the run again" in out
    assert "aevb               seed 1   missing  0/2 epochs" in out
    assert "12 runs, 0 trained, 0 partial, 11 missing, 1 damaged" in out
