import json

import pytest

from logradar.config import MultivariateConfig
from logradar.detect.multivariate import MultivariateDetector
from logradar.schema import Severity

FAST = {"n_estimators": 50}


def run(det, ctx, windows):
    return [a for w in windows for a in det.observe(w, ctx)]


def test_fires_when_the_mix_changes(traffic, ctx):
    t = traffic(2)
    det = MultivariateDetector(MultivariateConfig(**FAST))
    run(det, ctx, (t.window(i) for i in range(600)))
    # the busiest template vanishes while the second one takes its volume: same total
    w = t.window(600, drop={1}, extra={2: 60})
    found = det.observe(w, ctx)
    assert len(found) == 1
    a = found[0]
    assert (a.detector, a.kind, a.stream, a.template_id, a.session) == (
        "multivariate",
        "multivariate",
        "payments",
        None,
        None,
    )
    assert (a.start, a.end) == (w.start, w.end)
    assert a.observed >= a.expected and 0 < a.score <= 1
    assert a.severity == Severity.LOW
    assert f"'{ctx.template_text(1)}' 0 lines" in a.explanation
    assert a.explanation.startswith(f"The mix of {w.total} lines on stream payments is unusual")
    assert a.examples and a.examples[0].startswith("line of template 2")


def test_the_forest_flags_a_joint_shift_no_single_feature_explains(traffic, ctx):
    # two mid-size templates up together: every feature stays under the deviation guard, so
    # only the forest can see it. Its margin is thin (axis-parallel splits), so across four
    # streams we ask for three.
    fired = 0
    for seed in range(4):
        t = traffic(seed)
        det = MultivariateDetector(MultivariateConfig(**FAST))
        run(det, ctx, (t.window(i) for i in range(300)))
        w = t.window(300, extra={2: 60, 3: 40})
        model = det._streams["payments"]
        assert model.deviation(model.row(w.counts, w.total, w.errors)) < det.config.max_deviation
        fired += len(det.observe(w, ctx))
    assert fired >= 3


def test_quiet_on_long_normal_traffic(traffic, ctx):
    # the threshold sits a margin above the 99.5% quantile of the training scores, and the
    # model refits as training grows: allow 0.25% of 2,000 normal windows to fire
    t = traffic(0)
    det = MultivariateDetector(MultivariateConfig(**FAST))
    found = run(det, ctx, (t.window(i) for i in range(2000)))
    assert len(found) <= 5, [a.explanation for a in found]


def test_nothing_before_enough_windows(traffic, ctx):
    t = traffic(4)
    det = MultivariateDetector(MultivariateConfig(min_windows=60, **FAST))
    assert (
        run(det, ctx, (t.window(i, drop={1}) if i % 7 == 0 else t.window(i) for i in range(59)))
        == []
    )
    assert det.state_dict()["streams"]["payments"]["features"] is None


def test_learning_lowers_severity(traffic, ctx):
    t = traffic(5)
    det = MultivariateDetector(MultivariateConfig(severity="high", **FAST))
    run(det, ctx, (t.window(i, learning=True) for i in range(300)))
    found = det.observe(t.window(300, drop={1}, extra={2: 60}, learning=True), ctx)
    assert [a.severity for a in found] == [Severity.MEDIUM]


@pytest.mark.parametrize("cut", [30, 400])  # before and after the first fit
def test_save_restore_gives_same_outputs(traffic, ctx, cut):
    t = traffic(6)
    cfg = MultivariateConfig(refit_every=100, **FAST)
    det = MultivariateDetector(cfg)
    run(det, ctx, (t.window(i) for i in range(cut)))
    restored = MultivariateDetector(cfg)
    restored.load_state_dict(json.loads(json.dumps(det.state_dict())))
    incident = {"drop": {1}, "extra": {3: 50}}
    tail = [t.window(i, **(incident if i % 25 == 0 else {})) for i in range(cut, cut + 300)]
    expected = run(det, ctx, tail)
    assert len(expected) >= 5
    assert run(restored, ctx, tail) == expected
    assert restored.state_dict() == det.state_dict()


def test_compiled_forest_scores_exactly_like_scikit_learn():
    import numpy as np
    from sklearn.ensemble import IsolationForest

    from logradar.detect.multivariate import CompiledForest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    forest = IsolationForest(n_estimators=50, random_state=0).fit(x)
    probe = np.vstack([x[:20], rng.normal(scale=4, size=(20, 6))])
    compiled = CompiledForest(forest)
    ours = [compiled.score(list(row)) for row in probe]
    assert np.allclose(ours, -forest.score_samples(probe), rtol=0, atol=1e-12)
