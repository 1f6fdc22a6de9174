"""The DDP scaling-on-paper script: exact gradient bytes, DDP buckets, ring formula, its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch.distributed as dist

from animegan.models import Discriminator, Generator

MIB = 1024 * 1024


@pytest.fixture
def ddp_scaling(load_benchmark):
    return load_benchmark("ddp_scaling")


@pytest.fixture(scope="module")
def networks() -> tuple[Generator, Discriminator]:
    return Generator(), Discriminator()


def test_gradient_bytes_are_four_per_trainable_parameter(ddp_scaling, networks) -> None:
    generator, discriminator = networks
    layout = ddp_scaling.gradient_layout(generator, discriminator)
    trainable = sum(
        p.numel() for net in networks for p in net.parameters() if p.requires_grad
    )  # fp32
    assert layout.parameters == trainable
    assert layout.gradient_bytes == 4 * trainable
    assert sum(layout.bucket_bytes) == layout.gradient_bytes
    assert layout.num_tensors == len(list(generator.parameters())) + len(
        list(discriminator.parameters())
    )
    assert layout.used_map_bytes == 4 * layout.num_tensors
    # D's spectral norm keeps one u and one v vector per conv; G has no buffers.
    assert layout.buffer_bytes == 4 * sum(b.numel() for b in discriminator.buffers()) > 0
    assert layout.num_buffers == len(list(discriminator.buffers()))


def test_bucket_assignment_matches_torch(ddp_scaling, networks) -> None:
    """Our re-implementation agrees with DDP's own assignment for [1 MiB, 25 MiB] limits."""
    parameters = ddp_scaling.trainable_parameters(networks)
    ours = ddp_scaling.bucket_assignment(
        [p.numel() * p.element_size() for p in parameters], MIB, 25 * MIB
    )
    if not hasattr(dist, "_compute_bucket_assignment_by_size"):
        pytest.skip("this torch build has no dist._compute_bucket_assignment_by_size")
    theirs, _ = dist._compute_bucket_assignment_by_size(
        parameters, [MIB, 25 * MIB], [False] * len(parameters)
    )
    assert ours == [list(bucket) for bucket in theirs]
    assert len(ours) == 2  # 12.5 MiB of fp32 gradients: the 1 MiB bucket and one more


def test_bucket_assignment_hand_values(ddp_scaling) -> None:
    # limits 4 then 10: [3, 2] closes the first bucket at 5 >= 4, [6, 5] closes at 11 >= 10.
    assert ddp_scaling.bucket_assignment([3, 2, 6, 5, 1], 4, 10) == [[0, 1], [2, 3], [4]]
    assert ddp_scaling.bucket_assignment([], 4, 10) == []


def test_ring_allreduce_hand_values(ddp_scaling) -> None:
    ring = ddp_scaling.ring_allreduce_seconds
    # N=2: factor 1; 1e9 B at 100 GB/s = 10 ms, plus 3 launches of 10 µs.
    assert ring(1e9, 2, 100.0, 10.0, launches=3) == pytest.approx(0.010 + 30e-6)
    # N=4: factor 1.5; 4e8 B at 200 GB/s -> 3 ms; no latency.
    assert ring(4e8, 4, 200.0, 0.0) == pytest.approx(0.003)
    # N=8: factor 1.75; 8e6 B at 350 GB/s -> 40 µs, plus 20 µs.
    assert ring(8e6, 8, 350.0, 20.0) == pytest.approx(60e-6)
    assert ring(1e9, 1, 100.0, 10.0) == 0.0
    assert ddp_scaling.broadcast_seconds(1e6, 4, 100.0, 5.0) == pytest.approx(15e-6)
    with pytest.raises(ValueError):
        ring(1.0, 0, 1.0, 1.0)


def test_gan_step_is_two_full_reductions(ddp_scaling, networks) -> None:
    layout = ddp_scaling.gradient_layout(*networks)
    comm = ddp_scaling.gan_step_comm_seconds(layout, 8, 360.0, 20.0)
    one_backward = ddp_scaling.ring_allreduce_seconds(
        layout.gradient_bytes, 8, 360.0, 20.0, launches=layout.num_buckets
    ) + ddp_scaling.ring_allreduce_seconds(layout.used_map_bytes, 8, 360.0, 20.0)
    assert comm["allreduce"] == pytest.approx(2 * one_backward)
    # Lightning's manual optimisation broadcasts buffers only on the first forward.
    assert comm["broadcast"] == 0.0 and comm["total"] == comm["allreduce"]
    plain = ddp_scaling.gan_step_comm_seconds(layout, 8, 360.0, 20.0, broadcast_buffers=True)
    assert plain["broadcast"] == pytest.approx(layout.buffer_bytes / 360e9 + 20e-6)
    assert plain["total"] == pytest.approx(comm["allreduce"] + plain["broadcast"])


def test_efficiency_bounded_and_non_increasing_in_gpus(ddp_scaling, networks) -> None:
    layout = ddp_scaling.gradient_layout(*networks)
    rows = ddp_scaling.scaling_rows(
        layout,
        step_s=0.174,
        batch_size=32,
        world_sizes=[1, 2, 4, 8, 16, 32, 64],
        gpus_per_node=8,
        intra=ddp_scaling.Link("NVLink", 360.0, 20.0),
        inter=ddp_scaling.Link("InfiniBand", 45.0, 40.0),
        backward_fraction=0.5,
    )
    assert rows[0]["efficiency_no_overlap"] == rows[0]["efficiency_full_overlap"] == 1.0
    for key in ("efficiency_no_overlap", "efficiency_full_overlap"):
        values = [row[key] for row in rows]
        assert all(0.0 < v <= 1.0 for v in values)
        assert all(a >= b for a, b in zip(values, values[1:], strict=False)), key
    assert all(r["efficiency_full_overlap"] >= r["efficiency_no_overlap"] for r in rows)
    assert [r["nodes"] for r in rows] == [1, 1, 1, 1, 2, 4, 8]
    # A step dwarfed by communication must show it.
    tiny_link = ddp_scaling.Link("slow", 1.0, 1.0)
    slow = ddp_scaling.scaling_rows(layout, 1e-4, 1, [16], 8, tiny_link, tiny_link, 0.0)
    assert slow[0]["efficiency_no_overlap"] < 0.01


def test_loader_requirement(ddp_scaling) -> None:
    need = ddp_scaling.loader_requirement(100.0, 8, 200.0, 16, 1.0)
    assert need["needed_samples_per_s"] == 800.0
    assert need["cores_needed"] == 4.0
    assert need["loader_cores_available"] == 8.0
    assert need["headroom"] == 2.0


def test_main_writes_json(ddp_scaling, networks, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ddp.json"
    ddp_scaling.main(["--throughput-json", str(tmp_path / "absent.json"), "--out", str(out)])
    written = json.loads(out.read_text())
    # The gradients section describes the real networks: counted here, independently.
    trainable = sum(p.numel() for net in networks for p in net.parameters() if p.requires_grad)
    gradients = written["gradients"]
    assert gradients["parameters"] == trainable and gradients["gradient_bytes"] == 4 * trainable
    assert sum(gradients["bucket_bytes"]) == 4 * trainable
    assert gradients["num_buckets"] == len(gradients["bucket_bytes"])
    assert gradients["bytes_allreduced_per_gan_step"] == 2 * (
        4 * trainable + gradients["used_map_bytes"]
    )
    assert {"date", "step", "gradients", "assumptions", "rows", "loader"} <= written.keys()
    assert written["step"]["step_s"] == pytest.approx(0.174)  # the external H100 probe (benchmarks/TRAIN_SPEED.md)
    assert [row["gpus"] for row in written["rows"]] == [2, 4, 8, 16, 32]
    for row in written["rows"]:
        assert {"comm_ms_per_step", "efficiency_no_overlap", "efficiency_full_overlap"} <= set(row)
        assert {"cores_needed", "headroom"} <= set(row["loader"])
    assert "ON PAPER" in capsys.readouterr().out


def test_cpu_throughput_json_warns_loudly(ddp_scaling, tmp_path: Path, capsys) -> None:
    throughput = tmp_path / "train_throughput.json"
    throughput.write_text(
        json.dumps({"device": "x86_64", "batch_size": 2, "size": 64, "ours": {"step_s": 3.5}})
    )
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"recipes": {"none": {"samples_per_s": 100.0}}}))
    report = ddp_scaling.main(
        [
            "--throughput-json",
            str(throughput),
            "--data-json",
            str(data),
            "--world-sizes",
            "2",
            "--out",
            str(tmp_path / "ddp.json"),
        ]
    )
    assert report["step"]["step_s"] == 3.5 and not report["step"]["is_gpu_figure"]
    printed = capsys.readouterr().out
    assert "NOT A GPU FIGURE" in printed and "--step-ms 174" in printed
    assert report["loader"]["samples_per_s_per_core"] == 100.0
    assert ddp_scaling.looks_like_gpu("NVIDIA H100 80GB HBM3")
    assert not ddp_scaling.looks_like_gpu("x86_64")
    assert not ddp_scaling.looks_like_gpu("x86_64 CPU ×2 threads")  # bench_train.py's CPU name
