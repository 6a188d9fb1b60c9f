"""The embeddable widget: served at /widget, embedded from another origin, and locked down when configured."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest

from tests.ui_server import ROOT, SEED_QUESTION, chromium, fake_pipeline, make_app, screenshot, serve_app, serve_static
from ui.security import frame_ancestors, normalize_origin

HOST_PAGE = ROOT / "ui" / "host_example.html"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("widget") / "index")


def host_page_for(app_url: str) -> Path:
    """ui/host_example.html with its src pointing at the test server, in a folder of its own."""
    folder = Path(tempfile.mkdtemp())
    (folder / "host.html").write_text(
        HOST_PAGE.read_text(encoding="utf-8").replace("http://127.0.0.1:7860", app_url), encoding="utf-8"
    )
    return folder


def test_origins_normalize() -> None:
    assert normalize_origin("HTTPS://News.Example.com/") == "https://news.example.com"
    assert frame_ancestors(["https://a.example"]) == "frame-ancestors 'self' https://a.example"


@pytest.mark.slow
def test_widget_page_loader_and_theme(pipeline) -> None:
    with serve_app(make_app(pipeline, **{"widget.theme": "dark"})) as url:
        r = httpx.get(url + "/widget", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"].endswith("/widget/?__theme=dark")
        page = httpx.get(url + "/widget/?__theme=dark")
        assert page.status_code == 200 and "Ask the documents" in page.text
        assert "content-security-policy" not in page.headers  # no allowed_origins: anyone may embed
        js = httpx.get(url + "/gradio.js")
        assert js.status_code == 200 and "assets/index-" in js.text
        config = httpx.get(url + "/widget/config").json()
        assert config["footer_links"] == []


@pytest.mark.slow
@pytest.mark.browser
def test_widget_embedded_from_another_origin_answers_with_citations(pipeline) -> None:
    """A host page on localhost:<other port> embeds the widget from 127.0.0.1 as web component and iframe."""
    with serve_app(make_app(pipeline)) as url, serve_static(host_page_for(url), host="localhost") as host:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1200, "height": 950})
            page.goto(host + "/host.html")

            component = page.locator("gradio-app")
            box = component.get_by_placeholder("Ask a question about")
            box.fill(SEED_QUESTION, timeout=30_000)
            box.press("Enter")
            marker = component.locator("a.cite-marker").first
            marker.wait_for(timeout=30_000)
            assert "50,000" in component.locator("[data-testid=bot]").first.inner_text()
            assert "Japan hosts around 50,000" in component.locator("li.citation").first.inner_text()

            frame = page.frame_locator("#iframe iframe")
            box = frame.get_by_placeholder("Ask a question about")
            box.fill("What constrains Japan's military capabilities?", timeout=30_000)
            box.press("Enter")
            marker = frame.locator("a.cite-marker").first
            marker.wait_for(timeout=30_000)
            marker.click()  # the quoted citation is brought into view and highlighted, the chat stays
            frame.locator("li.citation.cite-active").wait_for(timeout=5_000)
            assert frame.locator("[data-testid=user]").count() == 1
            page.wait_for_timeout(500)
            screenshot(page, "widget_embedded.png")


@pytest.mark.slow
def test_allowed_origins_refuse_other_origins_over_http(pipeline) -> None:
    app = make_app(pipeline, **{"widget.allowed_origins": "https://news.example.com"})
    with serve_app(app) as url:
        page = httpx.get(url + "/widget/?__theme=light")
        assert page.headers["content-security-policy"] == "frame-ancestors 'self' https://news.example.com"
        bad = httpx.post(url + "/gradio_api/queue/join", headers={"Origin": "https://evil.example"}, json={})
        assert bad.status_code == 403
        good = httpx.options(
            url + "/gradio_api/queue/join",
            headers={"Origin": "https://news.example.com", "Access-Control-Request-Method": "POST"},
        )
        assert good.status_code == 200
        assert good.headers["access-control-allow-origin"] == "https://news.example.com"
        assert httpx.get(url + "/gradio.js", headers={"Origin": "https://evil.example"}).status_code == 403
        same = httpx.get(url + "/config", headers={"Origin": url})  # the app's own pages still work
        assert same.status_code == 200


@pytest.mark.slow
@pytest.mark.browser
def test_allowed_origins_block_embedding_from_other_origins_in_a_browser(pipeline) -> None:
    app = make_app(pipeline, **{"widget.allowed_origins": "https://news.example.com"})
    with serve_app(app) as url, serve_static(host_page_for(url), host="localhost") as host:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            blocked: list[str] = []
            page.on("console", lambda m: blocked.append(m.text) if m.type == "error" else None)
            page.goto(host + "/host.html")
            page.wait_for_timeout(3000)
            frame = page.frame_locator("#iframe iframe")
            assert frame.get_by_placeholder("Ask a question about").count() == 0
            assert page.locator("gradio-app textarea").count() == 0
            assert any("frame-ancestors" in m or "CORS" in m or "403" in m for m in blocked), blocked
            screenshot(page, "widget_refused.png")


@pytest.mark.slow
def test_access_token_guards_pages_and_api(pipeline) -> None:
    from gradio_client import Client

    app = make_app(pipeline, **{"widget.access_token": "s3cret"})
    with serve_app(app) as url:
        assert httpx.get(url + "/widget/?__theme=light").status_code == 401
        assert httpx.get(url + "/config").status_code == 401
        assert httpx.get(url + "/gradio.js").status_code == 200  # static loader carries no data
        with httpx.Client() as browser_like:
            first = browser_like.get(url + "/widget/?__theme=light&token=s3cret")
            assert first.status_code == 200 and "rag_token" in first.headers["set-cookie"]
            assert "s3cret" not in first.headers["set-cookie"]
            assert browser_like.get(url + "/widget/config").status_code == 200  # the cookie carries on
        client = Client(url + "/", headers={"Authorization": "Bearer s3cret"}, verbose=False)
        assert client.predict(SEED_QUESTION, None, api_name="/ask")["citations"]


@pytest.mark.slow
def test_behind_a_proxy_under_a_sub_path(pipeline) -> None:
    """With root_path=/chat (the proxy strips it), Gradio and the redirect build URLs under the public prefix."""
    proxy = {"X-Forwarded-Host": "example.com", "X-Forwarded-Proto": "https"}
    with serve_app(make_app(pipeline), root_path="/chat") as url:
        assert httpx.get(url + "/config", headers=proxy).json()["root"] == "https://example.com/chat"
        assert httpx.get(url + "/widget/config", headers=proxy).json()["root"] == "https://example.com/chat/widget"
        assert httpx.get(url + "/widget").headers["location"] == "/chat/widget/?__theme=light"
        assert httpx.get(url + "/gradio.js").status_code == 200


TWO_DOCUMENTS = {
    "deploy.md": "---\ntitle: Deployment guide\nurl: https://wiki.example.com/deploy\n---\n# Deployment guide\n\n"
                 "## Rollbacks\n\nTo roll back a release, run the deploy script with the previous tag. "
                 "Rollbacks finish within five minutes, even on a busy day.\n",
    "handbook.txt": "Office handbook\n\nParking\nThe office car park has forty spaces for staff. "
                    "Visitors park on the street.\n",
}


@pytest.mark.slow
@pytest.mark.browser
def test_widget_citation_opens_the_wiki_page_at_the_quoted_sentence(tmp_path) -> None:
    """Two documents, one with a URL: its citation links there with a text fragment, in a new tab; the other not."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TWO_DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    pipeline = fake_pipeline(tmp_path / "index", **{"paths.corpus_dir": str(corpus)})
    with serve_app(make_app(pipeline)) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 520, "height": 900})
        # The wiki is not reachable from here: the browser gets a stand-in page instead of going out.
        context.route("https://wiki.example.com/**", lambda route: route.fulfill(
            body="<p>Rollbacks finish within five minutes, even on a busy day.</p>", content_type="text/html"))
        page = context.new_page()
        page.goto(url + "/widget/")
        box = page.get_by_placeholder("Ask a question about the documents")
        box.fill("Within how many minutes do rollbacks finish?", timeout=30_000)
        assert "Ask the documents" in page.inner_text("body") and "the article" not in page.inner_text("body")
        box.press("Enter")
        link = page.locator("li.citation a.cite-source").first
        link.wait_for(state="attached", timeout=30_000)
        assert link.get_attribute("href") == (
            "https://wiki.example.com/deploy#:~:text=Rollbacks%20finish%20within%20five,on%20a%20busy%20day."
        )
        assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel").split()
        assert "Deployment guide · Rollbacks" in link.inner_text()
        if not link.is_visible():
            page.get_by_text("Sources (1)").first.click()
        with context.expect_page(timeout=10_000) as opened:
            link.click()
        assert opened.value.url.startswith("https://wiki.example.com/deploy")
        page.bring_to_front()

        box.fill("How many spaces does the office car park have for staff?")
        box.press("Enter")
        page.locator("li.citation").filter(has_text="Office handbook").first.wait_for(state="attached", timeout=30_000)
        handbook = page.locator("li.citation").filter(has_text="Office handbook").first
        assert handbook.locator("a.cite-source").count() == 0  # no URL, no link
        page.wait_for_timeout(500)
        screenshot(page, "widget_two_documents.png")
