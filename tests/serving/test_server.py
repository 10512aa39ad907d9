"""``mlbalance serve``: a real server process on a free port, talked to over HTTP."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from server_process import TEXTS, Server, predict_cli


def test_health_labels_model_and_docs(server, tfidf_run):
    import json

    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    labels = httpx.get(server.url + "/v1/labels").json()["labels"]
    names = json.loads((tfidf_run / "labels.json").read_text())
    assert [label["name"] for label in labels] == names
    thresholds = json.loads((tfidf_run / "thresholds.json").read_text())
    assert {label["threshold"] for label in labels} == {thresholds["value"]}
    assert {label["group"] for label in labels} <= {"head", "medium", "tail"}
    model = httpx.get(server.url + "/v1/model").json()
    assert model["kind"] == "tfidf" and model["n_labels"] == len(names)
    assert model["thresholds"] == thresholds
    assert model["metrics"] == json.loads((tfidf_run / "metrics.json").read_text())
    assert model["card"].startswith("---\nlibrary_name: mlbalance")
    assert httpx.get(server.url + "/docs").status_code == 200
    assert "/v1/predict" in httpx.get(server.url + "/openapi.json").json()["paths"]


def test_single_and_batch_answers_equal_predict(server, tfidf_run, tmp_path):
    expected = predict_cli(tfidf_run, TEXTS, tmp_path)
    assert sum(bool(e["labels"]) for e in expected) >= len(TEXTS) // 2  # most texts get labels
    batch = httpx.post(server.url + "/v1/predict", json={"texts": TEXTS, "scores": True}).json()
    assert [p["labels"] for p in batch["predictions"]] == [e["labels"] for e in expected]
    assert [p["scores"] for p in batch["predictions"]] == [e["scores"] for e in expected]
    for text, want in zip(TEXTS, expected):
        one = httpx.post(server.url + "/v1/predict", json={"text": text}).json()
        assert one == {"predictions": [{"labels": want["labels"]}]}
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(TEXTS)]
    answer = httpx.post(server.url + "/v1/predict", json={"documents": docs}).json()["predictions"]
    assert [(p["id"], p["labels"]) for p in answer] == [
        (f"d{i}", e["labels"]) for i, e in enumerate(expected)
    ]
    assert httpx.post(server.url + "/v1/predict", json={"texts": []}).json() == {"predictions": []}


def test_top_k_and_threshold_override(server, tfidf_run, tmp_path):
    expected = predict_cli(tfidf_run, TEXTS, tmp_path, "--all-scores")
    answer = httpx.post(
        server.url + "/v1/predict", json={"texts": TEXTS, "threshold": 0.0, "top_k": 2}
    ).json()
    for got, want in zip(answer["predictions"], expected):
        best = sorted(want["scores"].values(), reverse=True)[:2]
        assert [want["scores"][name] for name in got["labels"]] == best  # the two best, best first
    low = httpx.post(server.url + "/v1/predict", json={"texts": TEXTS, "threshold": 0.01}).json()
    for got, want in zip(low["predictions"], expected):
        assert set(got["labels"]) == {name for name, s in want["scores"].items() if s >= 0.01}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"texts": "one text"}, "texts"),
        ({"texts": ["ok", 3]}, "texts"),
        ({"text": "ok", "top_k": 0}, "top_k"),
        ({"text": "ok", "top_k": "2"}, "top_k"),
        ({"text": "ok", "threshold": "high"}, "threshold"),
        ({"text": "ok", "scores": "yes"}, "scores"),
        ({"documents": [{"id": "a"}]}, "text"),
        ({"text": "ok", "txet": "typo"}, "txet"),
    ],
)
def test_wrong_types_are_422_naming_the_field(server, body, field):
    response = httpx.post(server.url + "/v1/predict", json=body)
    assert response.status_code == 422
    assert any(field in map(str, error["loc"]) for error in response.json()["detail"]), response.json()


def test_malformed_or_ambiguous_requests_are_422(server):
    broken = httpx.post(
        server.url + "/v1/predict", content=b'{"texts": [', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    for body in ({}, {"text": "a", "texts": ["b"]}):
        response = httpx.post(server.url + "/v1/predict", json=body)
        assert response.status_code == 422
        assert "exactly one of 'text', 'texts' or 'documents'" in response.text


def test_limits_are_413(server):
    over = httpx.post(server.url + "/v1/predict", json={"texts": ["a"] * 17})
    assert over.status_code == 413
    assert "17 texts" in over.json()["detail"] and "16" in over.json()["detail"]
    long = httpx.post(server.url + "/v1/predict", json={"texts": ["short", "é" * 151]})
    assert long.status_code == 413
    assert long.json()["detail"].startswith("text 1 has 302 bytes")
    huge = httpx.post(
        server.url + "/v1/predict", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413


def test_unknown_path_is_404(server):
    assert httpx.get(server.url + "/v2/predict").status_code == 404
    assert httpx.get(server.url + "/v1/predict").status_code == 405


def test_32_concurrent_clients_50_requests_each_without_errors(server, tfidf_run, tmp_path):
    expected = {e["id"]: e["labels"] for e in predict_cli(tfidf_run, TEXTS, tmp_path)}

    def client(number: int) -> list[str]:
        problems = []
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(50):
                k = (number + i) % len(TEXTS)
                response = http.post("/v1/predict", json={"text": TEXTS[k]})
                if (
                    response.status_code != 200
                    or response.json()["predictions"][0]["labels"] != expected[str(k)]
                ):
                    problems.append(
                        f"client {number} request {i}: {response.status_code} {response.text[:200]}"
                    )
        return problems

    with ThreadPoolExecutor(32) as pool:
        problems = [p for result in pool.map(client, range(32)) for p in result]
    assert problems == []


def test_a_run_that_cannot_load_stops_the_server_with_one_line(tmp_path):
    (tmp_path / "broken").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "mlbalance", "serve", str(tmp_path / "broken")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlbalance: error: ") and "not a run directory" in lines[0]


def test_a_port_in_use_is_one_line(tfidf_run, server):
    result = subprocess.run(
        [sys.executable, "-m", "mlbalance", "serve", str(tfidf_run), "--port", str(server.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"mlbalance: error: cannot listen on 127.0.0.1:{server.port}")


def test_two_worker_processes_answer_alike(tfidf_run, tmp_path):
    expected = predict_cli(tfidf_run, TEXTS, tmp_path)
    srv = Server(tfidf_run, "--workers", "2")
    try:
        for _ in range(4):
            answer = httpx.post(srv.url + "/v1/predict", json={"texts": TEXTS}).json()
            assert [p["labels"] for p in answer["predictions"]] == [e["labels"] for e in expected]
    finally:
        srv.stop()


def test_an_exported_model_serves_like_its_run(server, tfidf_run, tmp_path):
    from mlbalance.export import export_run

    exported = export_run(tfidf_run, tmp_path / "exported")
    srv = Server(exported)
    try:
        for body in ({"texts": TEXTS, "scores": True}, {"texts": TEXTS, "top_k": 3, "threshold": 0.0}):
            want = httpx.post(server.url + "/v1/predict", json=body).json()
            assert httpx.post(srv.url + "/v1/predict", json=body).json() == want
        assert httpx.get(srv.url + "/v1/labels").json() == httpx.get(server.url + "/v1/labels").json()
    finally:
        srv.stop()
