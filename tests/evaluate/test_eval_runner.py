"""`run_eval` end to end on hand-made records: baselines, the grader, resume, bad input."""

from __future__ import annotations

import json

import pytest
from tests.evaluate.eval_fakes import (
    C,
    FakeEvaluator,
    N,
    make_dataset_dir,
    make_records,
    write_records,
)

from proclab.errors import ConfigError, DataError, ErrorList, ProclabError
from proclab.evaluate.config import make_config
from proclab.evaluate.logs import (
    SAMPLES_FILE,
    SCHEMA_VERSION,
    load_results,
    prompt_sha256,
    read_samples,
)
from proclab.evaluate.runner import EvalAborted, prompt_messages, run_eval
from proclab.infer.base import Generation


@pytest.fixture()
def data_file(tmp_path):
    return write_records(tmp_path / "data.jsonl", make_records())  # 16 records, 8 C / 8 N


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return make_dataset_dir(tmp_path_factory.mktemp("dataset"))


def _run(data, out, evaluator=None, **fields):
    fields.setdefault("backend", "fake" if evaluator else "oracle")
    return run_eval(make_config(data=str(data), **fields), out, evaluator=evaluator)


def test_oracle_is_perfect_and_majority_is_half(data_file, tmp_path):
    oracle = _run(data_file, tmp_path / "o", backend="oracle").results
    assert oracle.metrics["accuracy"].value == 1.0 and oracle.metrics["mcc"].value == 1.0
    majority = _run(data_file, tmp_path / "m", backend="majority").results
    assert majority.metrics["accuracy"].value == 0.5
    assert majority.config["evaluator"] == {"label": C, "fitted_on": "evaluated records"}
    assert majority.per_class[N].recall.value == 0.0


def test_outputs_are_scored_by_the_grader_and_logged(data_file, tmp_path):
    def respond(rec, _prompt):
        if rec.id.endswith("-0"):
            return "I am not sure."  # no verdict: unparsed
        return "Reasoning...\nFinal answer: NON-COMPLIANT"

    out = _run(data_file, tmp_path / "r", FakeEvaluator(respond))
    samples = read_samples(tmp_path / "r" / SAMPLES_FILE)
    assert len(samples) == 16
    unparsed = [s for s in samples if s.parsed is None]
    assert len(unparsed) == 8 and not any(s.correct for s in unparsed)
    first = samples[0]
    rec = make_records()[0]
    assert first.id == rec.id and first.gold == rec.label and first.order == "PSQ"
    assert first.prompt_sha256 == prompt_sha256(prompt_messages(rec, "PSQ"))
    # 8 answered: all NON-COMPLIANT, 4 of them right.
    m = out.results.metrics
    assert m["parse_rate"].value == 0.5 and m["accuracy"].value == 4 / 16
    assert out.results.complete and out.results.n == 16


def test_every_order_reaches_the_model(data_file, tmp_path):
    seen = []
    fake = FakeEvaluator(lambda rec, text: seen.append(text.split(":")[0]) or f"Final answer: {C}")
    res = _run(data_file, tmp_path / "r", fake, orders=["PSQ", "SQP"], limit=3).results
    assert sorted(seen) == ["Procedure"] * 3 + ["Scenario"] * 3
    assert res.orders.n == {"PSQ": 3, "SQP": 3} and res.orders.agreement == 1.0


def test_resume_scores_each_sample_once(data_file, tmp_path):
    out = tmp_path / "r"
    first = FakeEvaluator()
    assert _run(data_file, out, first, limit=5, batch_size=2).new_samples == 5
    second = FakeEvaluator()
    res = _run(data_file, out, second, batch_size=2)
    assert res.new_samples == 11 and len(second.calls) == 11
    assert not set(first.calls) & set(second.calls)
    third = FakeEvaluator()
    again = _run(data_file, out, third)
    assert third.calls == [] and again.new_samples == 0 and again.results.n == 16
    keys = [s.key for s in read_samples(out / SAMPLES_FILE)]
    assert len(keys) == len(set(keys)) == 16


def test_a_cut_last_line_is_redone(data_file, tmp_path):
    out = tmp_path / "r"
    _run(data_file, out, FakeEvaluator(), limit=4)
    log = out / SAMPLES_FILE
    log.write_bytes(log.read_bytes()[:-30])  # a kill in the middle of the 4th line
    fake = FakeEvaluator()
    res = _run(data_file, out, fake)
    assert len(fake.calls) == 13 and res.results.n == 16
    assert len(read_samples(log)) == 16


def test_other_config_is_refused_unless_overwrite(data_file, tmp_path):
    out = tmp_path / "r"
    _run(data_file, out, backend="oracle")
    with pytest.raises(ConfigError, match="backend: 'oracle' there, 'majority' now"):
        _run(data_file, out, backend="majority")
    cfg = make_config(backend="majority", data=str(data_file))
    res = run_eval(cfg, out, overwrite=True)
    assert res.results.metrics["accuracy"].value == 0.5 and res.new_samples == 16


def test_backend_error_leaves_a_valid_log_and_resume_finishes(data_file, tmp_path):
    out = tmp_path / "r"

    class Dies(FakeEvaluator):
        def answer(self, records, prompts, config):
            if self.calls:
                raise ProclabError("server went away", fix="restart it")
            return super().answer(records, prompts, config)

    with pytest.raises(EvalAborted, match="server went away") as err:
        _run(data_file, out, Dies(), batch_size=4)
    assert "rerun the same command" in err.value.fix
    assert len(read_samples(out / SAMPLES_FILE)) == 4
    assert (out / SAMPLES_FILE).read_bytes().endswith(b"\n")
    fake = FakeEvaluator()
    assert _run(data_file, out, fake, batch_size=4).results.n == 16 and len(fake.calls) == 12


def test_unreachable_api_backend_stops_with_a_clear_error(data_file, tmp_path):
    # A real API backend pointed at a closed local port: every request fails at once.
    out = tmp_path / "r"
    cfg = make_config(backend="openai", model="m", data=str(data_file), batch_size=4,
                      options={"base_url": "http://127.0.0.1:9/v1", "max_retries": 0,
                               "timeout_s": 5, "api_key_env": None})
    with pytest.raises(EvalAborted, match="4 samples failed") as err:
        run_eval(cfg, out)
    assert "rerun the same command" in err.value.fix
    assert read_samples(out / SAMPLES_FILE) == []
    assert json.loads((out / "run.json").read_text())["identity"]["options"]["api_key_env"] is None


def test_failed_generations_are_not_logged(data_file, tmp_path):
    class Half(FakeEvaluator):
        def answer(self, records, prompts, config):
            gens = super().answer(records, prompts, config)
            return [g if i % 2 else Generation(text="", finish_reason="error", error="HTTP 503")
                    for i, g in enumerate(gens)]

    with pytest.raises(EvalAborted, match=r"8 samples failed \(HTTP 503\)"):
        _run(data_file, tmp_path / "r", Half(), batch_size=4)
    assert len(read_samples(tmp_path / "r" / SAMPLES_FILE)) == 8


def test_dataset_dir_with_pairs_and_train_majority(dataset_dir, tmp_path):
    res = _run(dataset_dir, tmp_path / "r", split="test", pairs=True).results
    assert res.data.records == 16 + 8  # the test split + its pair members, not train's
    assert res.pairs is not None and res.pairs.flip is not None
    assert res.pairs.flip.pairs == 2 and res.pairs.preserve.pairs == 2
    assert res.pairs.consistency.value == 1.0 and res.pairs.invariance_flip_rate.value == 0.0
    maj = _run(dataset_dir, tmp_path / "m", backend="majority", split="test").results
    assert maj.config["evaluator"] == {"label": N, "fitted_on": "train.jsonl"}
    only_pairs = _run(dataset_dir, tmp_path / "p", split="pairs").results
    assert only_pairs.n == 16 and only_pairs.pairs.consistency.value == 1.0


def test_surface_baseline_uses_the_dataset_probe(dataset_dir, tmp_path):
    from proclab.dataset.probes import SurfaceProbe
    from proclab.dataset.records import load_split

    res = _run(dataset_dir, tmp_path / "s", backend="surface", split="test").results
    probe = SurfaceProbe.load(dataset_dir / "probes" / "surface.pkl")
    test = load_split(dataset_dir, "test")
    expected = sum(p == r.label for p, r in zip(probe.predict(test), test, strict=True))
    assert res.metrics["accuracy"].value == pytest.approx(expected / len(test))
    assert res.metrics["parse_rate"].value == 1.0


def test_model_backends_go_through_the_infer_registry(data_file, tmp_path, monkeypatch):
    import proclab.infer.registry as registry

    asked = {}

    class Echo:
        name = "hf"

        def generate(self, prompts, config):
            return [Generation(text=f"Final answer: {C}") for _ in prompts]

    def fake_load(name, *, model, adapter=None, **options):
        asked.update(name=name, model=model, adapter=adapter, options=options)
        return Echo()

    monkeypatch.setattr(registry, "load_backend", fake_load)
    cfg = make_config(backend="hf", model="some/model", adapter="ad", data=str(data_file),
                      options={"dtype": "float32"})
    res = run_eval(cfg, tmp_path / "r")
    assert asked == {"name": "hf", "model": "some/model", "adapter": "ad",
                     "options": {"dtype": "float32"}}
    assert res.results.metrics["accuracy"].value == 0.5


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"backend": "orcale"}, ConfigError, "did you mean 'oracle'"),
        ({"backend": "hf"}, ConfigError, "needs a model"),
        ({"orders": ["PSQ", "XYZ"]}, ConfigError, "unknown prompt order 'XYZ'"),
        ({"limit": 0}, ErrorList, "limit"),
        ({"split": "nope"}, DataError, "split 'nope' holds no records"),
        ({"backend": "oracle", "adapter": "a"}, ConfigError, "takes no adapter"),
    ],
)
def test_bad_options(data_file, tmp_path, fields, error, message):
    fields.setdefault("backend", "oracle")
    with pytest.raises(error, match=message):
        run_eval(make_config(data=str(data_file), **fields), tmp_path / "r")


def test_malformed_data_line_is_named(tmp_path):
    path = write_records(tmp_path / "data.jsonl", make_records()[:3])
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:50]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        _run(path, tmp_path / "r")
    assert err.value.where == f"{path}:2"
    assert not (tmp_path / "r").exists()


def test_dataset_dir_needs_a_known_split(dataset_dir, tmp_path):
    with pytest.raises(ConfigError, match="pairs, test, train"):
        _run(dataset_dir, tmp_path / "r")
    with pytest.raises(ConfigError, match="did you mean 'test'"):
        _run(dataset_dir, tmp_path / "r", split="tset")


def test_results_json_reloads(data_file, tmp_path):
    res = _run(data_file, tmp_path / "r").results
    again = load_results(tmp_path / "r")
    assert again == res and again.schema_version == SCHEMA_VERSION and len(again.data.sha256) == 64


@pytest.mark.slow
def test_hf_backend_on_the_tiny_model(data_file, tmp_path):
    import torch

    from proclab.models.tiny import tiny_model_path

    cfg = make_config(backend="hf", model=str(tiny_model_path()), data=str(data_file), limit=2,
                      max_new_tokens=4, batch_size=2, orders=["PSQ", "SPQ"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls are fastest on one thread
    try:
        res = run_eval(cfg, tmp_path / "r")
    finally:
        torch.set_num_threads(threads)
    samples = read_samples(tmp_path / "r" / SAMPLES_FILE)
    assert len(samples) == 4 and res.results.n == 4
    # Random weights never stop early: every answer is exactly max_new_tokens long.
    assert all(s.finish_reason == "length" and s.completion_tokens == 4 for s in samples)
    assert res.results.config["evaluator"]["model"] == str(tiny_model_path())
