import numpy as np
import pytest

from jaxent.io import ResumableCSV, read_csv


def test_resume_skips_written_points(tmp_path):
    path = tmp_path / "out.csv"
    cols = ["N", "eps", "value"]
    w = ResumableCSV(path, cols, key=["N", "eps"])
    eps = np.linspace(0.5, 1.3, 7)
    w.append([{"N": 10, "eps": float(e), "value": float(e) ** 2} for e in eps[:3]])
    # A new writer on the same file (as after an interrupted run) sees the finished points,
    # even though eps went through decimal text.
    w2 = ResumableCSV(path, cols, key=["N", "eps"])
    assert [w2.is_done(N=10, eps=float(e)) for e in eps] == [True] * 3 + [False] * 4
    assert not w2.is_done(N=20, eps=float(eps[0]))
    w2.append([{"N": 10, "eps": float(e), "value": float(e) ** 2} for e in eps[3:]])
    data = read_csv(path)
    assert len(data["eps"]) == 7
    np.testing.assert_allclose(data["value"], eps**2, rtol=1e-15)


def test_header_mismatch_is_an_error(tmp_path):
    path = tmp_path / "out.csv"
    ResumableCSV(path, ["a", "b"], key=["a"]).append([{"a": 1, "b": 2}])
    with pytest.raises(ValueError, match="columns"):
        ResumableCSV(path, ["a", "c"], key=["a"])
