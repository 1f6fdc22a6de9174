"""The sweep aggregator reads job folders as data: crafted configs are refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from animegan.cli.ablation import main
from animegan.experiments.ablation import aggregate
from animegan.utils.stored_config import StoredConfigError

METRICS = "epoch,step,val/content\n0,0,1.5\n"


def job(folder: Path, config: dict | str) -> Path:
    folder.mkdir(parents=True)
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    (folder / "config_resolved.yaml").write_text(text)
    (folder / "metrics.csv").write_text(METRICS)
    return folder


def specs(written: Path) -> dict[str, dict]:
    return {
        "builtins.open": {"_target_": "builtins.open", "file": str(written), "mode": "w"},
        "numpy.savetxt": {"_target_": "numpy.savetxt", "fname": str(written), "X": [1.0]},
        "shutil.copyfile": {"_target_": "shutil.copyfile", "src": __file__, "dst": str(written)},
        "torch.save": {"_target_": "torch.save", "obj": [1], "f": str(written)},
    }


@pytest.mark.parametrize(
    "target", ["builtins.open", "numpy.savetxt", "shutil.copyfile", "torch.save"]
)
@pytest.mark.parametrize("where", ["arm", "study", "study.metrics", "study.baseline"])
def test_a_crafted_job_config_is_refused_and_writes_nothing(
    tmp_path: Path, target: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    written = tmp_path / "written"
    spec = specs(written)[target]
    config: dict = {"seed": 0, "augmentation": {"name": "none"}}
    if where == "arm":
        config["augmentation"]["name"] = spec
    elif where == "study":
        config["study"] = spec
    else:
        config["study"] = {"group_by": "augmentation.name", where.split(".")[1]: spec}
    sweep = tmp_path / "sweep"
    job(sweep / "0", config)
    job(sweep / "1", {"seed": 1, "augmentation": {"name": "full"}})
    with pytest.raises(StoredConfigError, match="config_resolved.yaml"):
        aggregate(sweep)
    assert main(["aggregate", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "config_resolved.yaml" in err[0]
    assert not written.exists()
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1"]  # no report written


def test_python_yaml_tags_are_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = tmp_path / "written"
    sweep = tmp_path / "sweep"
    job(
        sweep / "0",
        f"seed: 0\naugmentation:\n  name: !!python/object/apply:builtins.open ['{written}', 'w']\n",
    )
    assert main(["aggregate", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a plain YAML config" in err[0]
    assert not written.exists()


def test_a_non_integer_seed_is_refused(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    job(sweep / "0", {"seed": {"_target_": "builtins.int"}, "augmentation": {"name": "none"}})
    with pytest.raises(StoredConfigError, match="seed must be an integer"):
        aggregate(sweep)


def test_plain_arms_still_aggregate(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    job(
        sweep / "0",
        {"seed": 0, "augmentation": {"name": "none"}, "study": {"metrics": "val/content"}},
    )
    job(sweep / "1", {"seed": 1, "augmentation": {"name": 0.5}})
    result = aggregate(sweep)
    assert [arm.arm for arm in result.arms] == ["0.5", "none"]
    assert result.settings.metrics == ("val/content",)
