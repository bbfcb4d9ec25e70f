"""Fast checks of the experiment scripts' pieces (the full runs are in analysis/README.md)."""

import importlib.util
import math
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "analysis"))


def _script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "analysis", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dissl_states_match_their_closed_forms_and_order(tmp_path):
    table = _script("dissl_states").main(["--out", str(tmp_path / "s")])
    assert table.abs_error.max() < 1e-9
    ideal = table[table.state == "ideal clustering"]
    assert np.allclose(ideal.loss, -ideal["lambda"] * math.log(16))
    at = table[np.isclose(table["lambda"], 1.0)].set_index("state").loss
    assert at["ideal clustering"] < at["total collapse"] < at["uniform"]      # lambda < 1 + beta
    at = table[np.isclose(table["lambda"], 2.3)].set_index("state").loss
    assert at["ideal clustering"] < at["uniform"] < at["total collapse"]      # lambda > 1 + beta


def test_halfmoon_pieces():
    hm = _script("seed1_halfmoon")
    x, q = hm.half_moon(500, torch.Generator().manual_seed(0))
    assert x.shape == (500, 2) and set(q.tolist()) == {0, 1, 2, 3}
    right = q % 2 == 1
    assert float(x[right, 1].mean()) > float(x[~right, 1].mean()) + 0.5       # the right half is lifted by e2
    g = hm.ntk_gram(x[:50].numpy(), x[:50].numpy())
    assert np.allclose(g, g.T) and np.linalg.eigvalsh(g).min() > -1e-9
    z = torch.from_numpy(np.linalg.qr(np.random.default_rng(0).standard_normal((400, 5)))[0] * 20.0)
    z = z - z.mean(0)
    z = z @ torch.linalg.inv(torch.linalg.cholesky(z.T @ z / 400)).T          # exactly whitened
    assert float(hm.ortho_penalty(z)) < 1e-12


def test_mean_ci_and_pair_batches():
    from _sslrun import PairBatches, mean_ci
    from infossl.training import Augmentation

    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and math.isclose(hi - m, 4.302652729911275 / math.sqrt(3), rel_tol=1e-9)
    x = torch.arange(12, dtype=torch.float32).reshape(12, 1, 1, 1).expand(12, 1, 2, 2).contiguous()
    y = torch.tensor([0, 1] * 6)
    aug = Augmentation(shift=0, rotation=0, scale=0, noise=0, cutout=0)
    batches = PairBatches(x, aug, torch.Generator().manual_seed(0), 4, flatten=True, label_views=y)
    assert len(batches) == 3
    for a, b in batches:
        assert a.shape == (4, 4)
        assert torch.equal(a[:, 0].long() % 2, b[:, 0].long() % 2)            # the other view shares the label
