"""News pages built around the shared corpus's articles, shaped like Vietnamese portal
pages once saved from a browser: menus, breadcrumb, date line, photo with caption, a
"Đọc thêm" link in the body, a byline, share bar, related news, footer."""

from __future__ import annotations

import html


def split_article(text: str) -> tuple[str, list[str]]:
    lines = [line.strip() for line in text.strip().split("\n")]
    title = lines[0]
    body = [line for line in lines[1:] if line]
    return title, body


def portal_page(text: str, byline: str = "Minh Anh", source: str = "(Theo Cổng TTĐT tỉnh)") -> str:
    title, body = split_article(text)
    paragraphs = [f"<p>{html.escape(p)}</p>" for p in body]
    middle = len(paragraphs) // 2
    paragraphs.insert(
        middle,
        '<p><strong>Đọc thêm:</strong> <a href="/tin/123">Xã Hòa Bình ra quân làm đường giao thông nông thôn</a></p>',
    )
    paragraphs.insert(
        1,
        '<figure class="image"><img src="/a.jpg" alt=""><figcaption>Ảnh: Quang cảnh hội nghị. (Ảnh: PV)'
        "</figcaption></figure>",
    )
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)} | Cổng thông tin điện tử</title>
<meta property="article:published_time" content="2026-11-20T07:30:00+07:00">
<script>var ga = 1;</script><style>.menu {{ color: red }}</style></head>
<body>
<header class="site-header"><div class="logo">Cổng thông tin điện tử tỉnh</div>
<ul class="main-menu"><li><a href="/">Trang chủ</a></li><li><a href="/tin">Tin tức - Sự kiện</a></li>
<li><a href="/vb">Văn bản chỉ đạo</a></li><li><a href="/lh">Liên hệ</a></li></ul></header>
<div class="breadcrumb"><a href="/">Trang chủ</a> › <a href="/tin">Tin tức</a></div>
<div class="container"><div class="row">
<div class="col-main"><article class="detail">
<h1 class="title">{html.escape(title)}</h1>
<div class="meta">Thứ sáu, 20/11/2026 07:30</div>
{"".join(paragraphs)}
<p class="author"><strong>{html.escape(byline)}</strong></p>
<p>{html.escape(source)}</p>
<div class="social-share">Chia sẻ <a href="#">Facebook</a> <a href="#">Zalo</a> In bài</div>
<div class="tags">Từ khóa: <a href="#">thông tin cơ sở</a></div>
</article>
<div class="related-news"><h3>Tin liên quan</h3><ul>
<li><a href="/1">Hội nghị tập huấn công tác thông tin cơ sở năm 2026</a></li>
<li><a href="/2">Ra mắt mô hình loa truyền thanh thông minh tại xã</a></li></ul></div>
</div>
<aside class="sidebar"><h3>Tin đọc nhiều</h3><ul><li><a href="/3">Lịch cắt điện tuần tới</a></li></ul></aside>
</div></div>
<footer class="footer">Bản quyền thuộc Ủy ban nhân dân tỉnh. Địa chỉ: 01 Trần Hưng Đạo.</footer>
</body></html>"""
