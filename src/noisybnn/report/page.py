"""The HTML page: one self-contained file, images referenced relative, inline CSS, no script."""

from __future__ import annotations

import html
import math
from pathlib import Path

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2126;
margin:0;background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:18px 28px 40px;background:#fff}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:21px;margin:34px 0 8px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
p{margin:6px 0 10px;max-width:1100px}.meta{color:#5a6370;font-size:13px}
nav ul{columns:2;margin:6px 0 0;padding-left:0;list-style:none;font-size:14px}
figure{margin:10px 0 16px}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figcaption{font-size:13px;color:#4a525c;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #d9dde2;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.bad td{background:#fde2e1}
.box{border-radius:6px;padding:8px 12px;margin:8px 0;font-size:14px}
.flag{background:#fde2e1;border:2px solid #c62828;color:#7f1010;font-weight:600}
.warn{background:#fff4d6;border:1px solid #d9a400}
.ok{background:#e3f4e5;border:1px solid #5aa469}
.note{background:#eef1f4;border:1px solid #cfd5dc;color:#3a424c}
.box ul{margin:2px 0;padding-left:20px}
footer{margin-top:36px;font-size:12.5px;color:#4a525c;border-top:2px solid #e3e6ea;padding-top:8px}
code{font-size:12.5px;background:#f1f3f5;padding:0 3px;border-radius:3px}
footer code{word-break:break-all}
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def pct(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.{digits}f} %"


def num(v, fmt: str = ".4g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return format(v, fmt)


def table(headers: list[str], rows: list[list[str]], bad_rows: set[int] | None = None,
          numeric: set[int] | None = None) -> str:
    """An HTML table; cells are already-escaped HTML; `numeric` column indexes align right."""
    numeric = numeric or set()
    bad_rows = bad_rows or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cells = "".join(f'<td class="n">{c}</td>' if j in numeric else f"<td>{c}</td>"
                        for j, c in enumerate(r))
        body.append(f'<tr class="bad">{cells}</tr>' if i in bad_rows else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def box(kind: str, items: list[str] | str, title: str | None = None) -> str:
    """A coloured box (flag, warn, ok, note) with a list of escaped items."""
    if isinstance(items, str):
        items = [items]
    if not items:
        return ""
    head = f"<strong>{esc(title)}</strong>" if title else ""
    if len(items) == 1 and not title:
        return f'<div class="box {kind}">{esc(items[0])}</div>'
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f'<div class="box {kind}">{head}<ul>{lis}</ul></div>'


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if it is not a PNG."""
    head = Path(path).read_bytes()[:24]
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def figure(path: Path | None, out_dir: Path, caption: str, alt: str) -> str:
    """A figure with its image referenced relative to the page; `caption` is HTML."""
    if path is None:
        return ""
    rel = Path(path).relative_to(out_dir).as_posix()
    size = png_size(path)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (f'<figure><img src="{esc(rel)}"{dims} alt="{esc(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def page(title: str, meta: str, blocks: list[tuple[str, str, str]], checks: str,
         footer: str) -> str:
    """The whole document. blocks: (anchor id, heading, inner HTML)."""
    toc = "".join(f'<li><a href="#{esc(a)}">{esc(h)}</a></li>' for a, h, _ in blocks)
    body = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{inner}</section>'
                   for a, h, inner in blocks)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1><p class=\"meta\">{meta}</p>"
        f'<section id="checks"><h2>Checks</h2>{checks}</section>'
        f"<nav><ul>{toc}</ul></nav>{body}<footer>{footer}</footer></main></body></html>\n"
    )
