"""Portal: the help pages the "Why?" link of an error leads to (issue 15 item 7).

Each page is a short Markdown file of ``web/help/`` in plain words, rendered with
markdown-it (raw HTML off, as for certification readmes). They hold no data, so they are
open without signing in: the sign-in page's own errors link here too.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt
from starlette.concurrency import run_in_threadpool

from connectorhub.errors import NotFound
from connectorhub.web import page
from connectorhub.web.help_topics import TOPIC_TITLES

router = APIRouter()
HELP = Path(__file__).parent / "help"
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


@cache
def _rendered(topic: str) -> str:
    return _markdown.render((HELP / f"{topic}.md").read_text(encoding="utf-8"))


@router.get("/help", response_class=HTMLResponse)
async def help_index(request: Request) -> Response:
    """Every help page."""
    me = await run_in_threadpool(page.signed_in_email, request)
    return page.render(request, "help.html", topics=TOPIC_TITLES, body=None, title="Help", me=me)


@router.get("/help/{topic}", response_class=HTMLResponse)
async def help_page(request: Request, topic: str) -> Response:
    """One help page: the rules behind a kind of error, in plain words."""
    me = await run_in_threadpool(page.signed_in_email, request)
    if topic not in TOPIC_TITLES:
        error = NotFound("There is no help page at this address; the help index lists them all.", code="PageNotFound")
        return page.render(request, "error.html", status=404, error=error, me=me)
    return page.render(request, "help.html", topics=TOPIC_TITLES, body=_rendered(topic), title=TOPIC_TITLES[topic], me=me)
