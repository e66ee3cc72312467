"""The realtime capacity benchmark's own logic: percentiles, docker stats parsing, which
channels a connection joins, and clear refusals of bad options."""
import pytest

from benchmarks.realtime_capacity import parse_args
from benchmarks.realtime_generator import topics_for
from benchmarks.realtime_stats import parse_mem_usage, percentile


def test_percentile_is_nearest_rank():
    """Catches: an off-by-one percentile that reports p99 as the max (or as p98)."""
    samples = list(range(1, 101))
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile([], 50) is None


@pytest.mark.parametrize("text, expected", [("123.5MiB / 2GiB", int(123.5 * 2**20)),
                                            ("512KiB / 1GiB", 512 * 1024), ("1.5GiB / 2GiB", int(1.5 * 2**30))])
def test_docker_memory_units(text, expected):
    """Catches: memory per connection off by 1,024x when docker stats switches units."""
    assert parse_mem_usage(text) == expected


def test_docker_memory_garbage_is_named():
    with pytest.raises(ValueError, match="MemUsage"):
        parse_mem_usage("--")


def test_fanout_sets_have_exact_sizes():
    """Catches: a fan-out channel whose subscriber count is not the size it is reported as."""
    sizes = [100, 1000, 10000]
    counts = {n: sum(f"realtime:p-{n}" in topics_for(gid, sizes, "p") for gid in range(10000)) for n in sizes}
    assert counts == {100: 100, 1000: 1000, 10000: 10000}


@pytest.mark.parametrize("argv, message", [
    (["--connections", "40000", "--processes", "2"], "open-file limit"),
    (["--fanout", "100,x"], "--fanout"),
    (["--connections", "50", "--fanout", "100"], "every size"),
    (["--hb-min", "30", "--hb-max", "25"], "--hb-min"),
])
def test_bad_options_are_refused_with_a_reason(argv, message, capsys):
    """Catches: options that would exceed 20,000 open files per process or silently
    measure a different fan-out than asked, accepted without a word."""
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
