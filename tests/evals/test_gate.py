"""The CI gate: the quick evaluation must meet the thresholds, and must fail when retrieval is broken."""

import dataclasses

from evals.run import main


def test_quick_eval_meets_the_thresholds(assistant, tmp_path, capsys):
    code = main(["--quick", "--gate", "--out", str(tmp_path / "report.json")], assistant=assistant)
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "gate: PASSED" in out


def test_gate_fails_on_a_broken_retriever(assistant, tmp_path, capsys):
    broken = dataclasses.replace(assistant)  # its own retriever and answerer
    retriever = broken.retriever
    real = retriever.search

    def shuffled(question, top_k=10, filters=None, mode="hybrid"):  # the worst hits first
        return list(reversed(real(question, top_k=200, filters=filters, mode=mode)))[:top_k]

    retriever.search = shuffled
    code = main(["--quick", "--gate", "--out", str(tmp_path / "report.json")], assistant=broken)
    out = capsys.readouterr().out
    assert code == 1 and "gate: FAILED" in out
