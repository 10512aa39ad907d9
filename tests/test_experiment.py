"""train / compare / reevaluate (the pipeline, comparison and reevaluation) with a fast stand-in model."""

import dataclasses
import json

import numpy as np
import pytest
import scipy.sparse as sp

import mlbalance
from mlbalance.comparison import compare
from mlbalance.errors import ConfigError, RunError
from mlbalance.experiment import train
from mlbalance.reevaluation import reevaluate
from mlbalance.runs import is_complete, load_run

ROW_KEYS = {
    "model",
    "loss",
    "split",
    "group",
    "micro_f1",
    "macro_f1",
    "micro_precision",
    "micro_recall",
    "threshold",
}


def test_train_in_memory(fake_tfidf, small_keyword_corpus):
    run = train(small_keyword_corpus, loss="focal", max_epochs=2)
    assert run.directory is None
    assert run.model.loss == "focal" and run.model.max_epochs == 2
    splits = {(r["split"], r["group"]) for r in run.metrics}
    assert ("validation", "total") in splits and ("test", "tail") in splits
    assert all(set(r) >= ROW_KEYS for r in run.metrics)
    assert all(r["model"] == "tfidf" and r["loss"] == "focal" for r in run.metrics)
    assert all(0.0 <= r["micro_f1"] <= 1.0 for r in run.metrics if r["micro_f1"] is not None)
    # the keyword model finds every label whose name is in the text: perfect recall on test
    total = run.test_rows("total")[0]
    assert total["micro_recall"] == pytest.approx(1.0)
    assert "Table 2" in run.report and "Table 3" in run.report and "Thresholds" in run.report


def test_train_writes_a_loadable_run(tmp_path, fake_tfidf, small_keyword_corpus):
    out = tmp_path / "run"
    run = train(small_keyword_corpus, loss="db", out=out, seed=3, threshold="per-label")
    assert is_complete(out)
    loaded = load_run(out)
    texts = small_keyword_corpus.test.texts
    np.testing.assert_array_equal(loaded.scores(texts), run.scores(texts))
    assert loaded.predict(texts) == run.predict(texts)
    assert loaded.thresholds.method == "per-label"
    assert loaded.config["seed"] == 3 and loaded.model.seed == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert {r["split"] for r in metrics} == {"validation", "test"}
    assert (out / "plots" / "f1_by_group.png").stat().st_size > 1000
    assert not (out / "checkpoint").exists()


def test_train_rejects_unknown_model_option(fake_tfidf, small_keyword_corpus):
    with pytest.raises(ConfigError, match=r"model 'tfidf' takes no option 'max_epoch'; its options are"):
        train(small_keyword_corpus, max_epoch=2)


def test_train_rejects_data_with_a_corpus(fake_tfidf, small_keyword_corpus):
    with pytest.raises(ConfigError, match="apply to a source name"):
        train(small_keyword_corpus, data="x.tar.gz")


def test_train_refuses_a_finished_run_then_overwrites(tmp_path, fake_tfidf, small_keyword_corpus):
    out = tmp_path / "run"
    train(small_keyword_corpus, out=out)
    with pytest.raises(RunError, match="already holds a finished run"):
        train(small_keyword_corpus, out=out)
    train(small_keyword_corpus, out=out, overwrite=True, seed=5)
    assert load_run(out).config["seed"] == 5


def test_reevaluate_with_another_threshold_method(tmp_path, fake_tfidf, small_keyword_corpus):
    out = tmp_path / "run"
    train(small_keyword_corpus, out=out)
    run = reevaluate(load_run(out), threshold="top-k", top_k=1, corpus=small_keyword_corpus)
    assert run.thresholds.method == "top-k"
    stored = load_run(out)
    assert stored.thresholds.method == "top-k" and stored.thresholds.k == 1
    assert stored.metrics == run.metrics
    assert stored.config["threshold"] == {
        "method": "top-k",
        "k": 1,
        "cv_folds": 3,
        "fbr": None,
        "at_least_one": False,
        "value": None,
    }


def test_fixed_threshold_is_stored_and_kept_by_a_rescore(tmp_path, fake_tfidf, small_keyword_corpus):
    out = tmp_path / "run"
    run = train(small_keyword_corpus, out=out, threshold="fixed", threshold_value=0.25)
    assert run.thresholds.method == "fixed" and run.thresholds.value == 0.25
    again = reevaluate(load_run(out), corpus=small_keyword_corpus)
    assert again.thresholds.value == 0.25 and again.metrics == run.metrics
    default = reevaluate(load_run(out), threshold="fixed", corpus=small_keyword_corpus)
    assert default.thresholds.value == 0.5 and load_run(out).config["threshold"]["value"] is None


def test_per_label_cv_fits_one_model_per_fold_and_tunes_on_their_scores(
    tmp_path, fake_tfidf, small_keyword_corpus, monkeypatch
):
    from mlbalance.evaluation import tune_thresholds_cv
    from mlbalance.out_of_fold import out_of_fold_scores

    fits = []
    real_fit = fake_tfidf.fit

    def counting_fit(self, corpus, **kw):
        fits.append(len(corpus.train))
        return real_fit(self, corpus, **kw)

    monkeypatch.setattr(fake_tfidf, "fit", counting_fit)
    out = tmp_path / "run"
    run = train(
        small_keyword_corpus, out=out, threshold="per-label-cv", cv_folds=2, fbr=0.2, at_least_one=True
    )
    n = len(small_keyword_corpus.train)
    assert fits[0] == n and len(fits) == 3 and sum(fits[1:]) == n  # the model, then 2 folds
    oof = out_of_fold_scores(lambda: fake_tfidf(), small_keyword_corpus, folds=2, seed=0)
    s_val = run.model.scores(small_keyword_corpus.validation.texts)
    expected = tune_thresholds_cv(
        oof,
        small_keyword_corpus.labels("train"),
        s_val,
        small_keyword_corpus.labels("validation"),
        fbr=0.2,
        at_least_one=True,
    )
    np.testing.assert_array_equal(run.thresholds.per_label, expected.per_label)
    stored = load_run(out)
    assert stored.thresholds.method == "per-label-cv" and stored.thresholds.at_least_one
    assert stored.config["threshold"] == {
        "method": "per-label-cv",
        "k": None,
        "cv_folds": 2,
        "fbr": 0.2,
        "at_least_one": True,
        "value": None,
    }
    assert {r["threshold_method"] for r in run.metrics} == {"per-label-cv"}
    # re-evaluating with the run's own settings gives the same thresholds and metrics
    again = reevaluate(stored, corpus=small_keyword_corpus)
    np.testing.assert_array_equal(again.thresholds.per_label, run.thresholds.per_label)
    assert again.metrics == run.metrics


def test_train_with_micromacro_thresholds(tmp_path, fake_tfidf, small_keyword_corpus):
    from mlbalance.evaluation import tune_thresholds_micromacro
    from mlbalance.out_of_fold import fold_assignment, out_of_fold_scores

    out = tmp_path / "run"
    run = train(small_keyword_corpus, out=out, threshold="micromacro-cv", cv_folds=2)
    n = len(small_keyword_corpus.train)
    oof = out_of_fold_scores(lambda: fake_tfidf(), small_keyword_corpus, folds=2, seed=0)
    # each fold model's median validation score per label, from fold models fitted here
    folds = fold_assignment(n, 2, seed=0)
    medians = []
    for k in range(2):
        keep = np.flatnonzero(folds != k)
        sub = dataclasses.replace(small_keyword_corpus, train=small_keyword_corpus.train.subset(keep))
        medians.append(np.median(fake_tfidf().fit(sub).scores(small_keyword_corpus.validation.texts), axis=0))
    args = (
        oof,
        small_keyword_corpus.labels("train"),
        folds,
        run.model.scores(small_keyword_corpus.validation.texts),
        small_keyword_corpus.labels("validation"),
    )
    expected = tune_thresholds_micromacro(*args, fold_validation_medians=np.array(medians))
    np.testing.assert_array_equal(run.thresholds.per_label, expected.per_label)
    stored = load_run(out)
    assert stored.thresholds.method == "micromacro-cv"
    assert stored.config["threshold"]["method"] == "micromacro-cv"
    assert {r["threshold_method"] for r in run.metrics} == {"micromacro-cv"}
    assert {r["threshold"] for r in run.metrics} == {None}
    again = reevaluate(stored, corpus=small_keyword_corpus)
    assert again.metrics == run.metrics


@pytest.mark.parametrize("method", ["micromacro-cv", "per-label-cv"])
def test_out_of_fold_scores_too_large_for_memory_are_kept_as_top_lists(
    monkeypatch, tmp_path, fake_tfidf, small_keyword_corpus, method
):
    """Past the size rule the pipeline cross-fits into each document's top scores (and its labels'):
    the thresholds are those tuned on the dense out-of-fold scores cut to the same top lists."""
    import mlbalance.out_of_fold as oof_module
    from mlbalance.evaluation.thresholding import OutOfFold, Scored, get_thresholder
    from mlbalance.evaluation.thresholding.base import keep_top_scores_by_fold

    monkeypatch.setattr(oof_module, "DENSE_OOF_ENTRIES", 0)
    monkeypatch.setattr(oof_module, "OOF_TOP_K", 2)
    run = train(small_keyword_corpus, threshold=method, cv_folds=2)
    fits = oof_module.cross_fit(lambda: fake_tfidf(), small_keyword_corpus, folds=2, seed=0)
    y_train = small_keyword_corpus.labels("train")
    assert sp.issparse(fits.scores) and fits.unstored_max.shape == (2, len(small_keyword_corpus.label_space))
    every = oof_module.cross_fit(lambda: fake_tfidf(), small_keyword_corpus, folds=2, seed=0, top_k=10**6)
    assert every.scores.nnz == np.prod(every.scores.shape)  # k above the labels: every score
    kept, unstored_max = keep_top_scores_by_fold(every.scores.toarray(), y_train, fits.folds, 2)
    np.testing.assert_array_equal(fits.scores.toarray(), kept.toarray())
    np.testing.assert_array_equal(fits.unstored_max, unstored_max)
    val = Scored.checked(
        run.model.scores(small_keyword_corpus.validation.texts), small_keyword_corpus.labels("validation")
    )
    expected = get_thresholder(method).tune(
        val, OutOfFold(kept, y_train, fits.folds, fits.validation_medians, unstored_max)
    )
    np.testing.assert_array_equal(run.thresholds.per_label, expected.per_label)
    assert sp.issparse(run.tuned_on.oof.scores)  # what the run's thresholds were tuned on


def test_compare_two_losses_and_resume(tmp_path, fake_tfidf, small_keyword_corpus):
    out = tmp_path / "cmp"
    seen = []
    result = compare(
        small_keyword_corpus, losses="bce,db", svm=False, out=out, on_cell=lambda *a: seen.append(a)
    )
    assert seen == [
        (0, 2, "tfidf-bce", "training"),
        (0, 2, "tfidf-bce", "done"),
        (1, 2, "tfidf-db", "training"),
        (1, 2, "tfidf-db", "done"),
    ]
    assert sorted(result.run_dirs) == ["tfidf-bce", "tfidf-db"]
    assert {(r["loss"], r["split"]) for r in result.rows} == {
        ("bce", "validation"),
        ("bce", "test"),
        ("db", "validation"),
        ("db", "test"),
    }
    rows = json.loads((out / "results.json").read_text())
    assert rows == json.loads(json.dumps(result.rows))
    assert (out / "results.csv").read_text().startswith("model,loss,split,group")
    assert "Table 2" in (out / "results.md").read_text()
    assert (out / "plots" / "f1_by_group.png").exists()
    assert is_complete(out / "tfidf-bce") and is_complete(out / "tfidf-db")

    # interrupted comparison: one run unfinished, one finished
    (out / "tfidf-db" / "COMPLETE").unlink()
    seen.clear()
    again = compare(
        small_keyword_corpus, losses="bce,db", svm=False, out=out, on_cell=lambda *a: seen.append(a)
    )
    assert seen == [(0, 2, "tfidf-bce", "reused"), (1, 2, "tfidf-db", "training"), (1, 2, "tfidf-db", "done")]
    assert again.reused == ["tfidf-bce"]
    assert again.rows == result.rows

    with pytest.raises(RunError, match="finished run with another run configuration"):
        compare(small_keyword_corpus, losses="bce", svm=False, out=out, seed=1)

    # a finished run made with other model defaults is not reused either
    config_path = out / "tfidf-bce" / "config.json"
    stored = json.loads(config_path.read_text())
    stored["model"]["config"]["lr"] = 123.0
    config_path.write_text(json.dumps(stored))
    with pytest.raises(RunError, match="finished run with another model configuration"):
        compare(small_keyword_corpus, losses="bce", svm=False, out=out)


def test_compare_in_memory(fake_tfidf, small_keyword_corpus):
    result = compare(small_keyword_corpus, losses=["focal"], svm=False)
    assert result.directory is None
    assert list(result.runs) == ["tfidf-focal"]
    assert result.load("tfidf-focal") is result.runs["tfidf-focal"]
    assert len(result.test_rows("total")) == 1


def test_public_api_names():
    assert mlbalance.train is train
    assert mlbalance.compare is compare
    assert mlbalance.load_run is load_run


def test_compare_over_seeds_names_cells_by_seed_and_reports_means(tmp_path, fake_tfidf, small_keyword_corpus):
    out = tmp_path / "cmp"
    result = compare(small_keyword_corpus, losses="bce,db", svm=False, out=out, seeds="0,1")
    cells = ["tfidf-bce-seed0", "tfidf-bce-seed1", "tfidf-db-seed0", "tfidf-db-seed1"]
    assert sorted(result.run_dirs) == cells
    assert load_run(out / "tfidf-db-seed1").config["seed"] == 1
    assert {r["seed"] for r in result.seed_rows} == {0, 1} and len(result.seed_rows) == 2 * len(result.rows)
    assert {r["seeds"] for r in result.rows} == {"0,1"}
    db = [r for r in result.seed_rows if r["loss"] == "db" and r["split"] == "test" and r["group"] == "total"]
    (mean,) = [r for r in result.test_rows() if r["loss"] == "db"]
    assert mean["micro_f1"] == pytest.approx(np.mean([r["micro_f1"] for r in db]))
    assert json.loads((out / "results_by_seed.json").read_text()) == json.loads(json.dumps(result.seed_rows))
    assert "micro_f1_std" in (out / "results.csv").read_text().splitlines()[0]
    assert " ± " in (out / "results.md").read_text()
    again = compare(small_keyword_corpus, losses="bce,db", svm=False, out=out, seeds=[0, 1])
    assert len(again.reused) == 4 and again.rows == result.rows


def test_auto_thresholding_is_the_papers_grid_on_its_corpora_and_the_best_global_threshold_elsewhere(
    fake_tfidf, small_keyword_corpus
):
    run = train(small_keyword_corpus, loss="bce")  # a user's corpus
    assert run.config["threshold"]["method"] == "auto" and run.thresholds.method == "global-optimal"
    assert {r["threshold_method"] for r in run.metrics} == {"global-optimal"}
    assert train("synthetic:tiny", loss="bce").thresholds.method == "grid"  # a stand-in for the paper's
    assert train(small_keyword_corpus, loss="bce", threshold="grid").thresholds.method == "grid"
