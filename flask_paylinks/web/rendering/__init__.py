"""Display helpers the checkout and the dashboard share.

:mod:`~flask_paylinks.web.rendering.branding` is how a link looks,
:mod:`~flask_paylinks.web.rendering.labels` the sentences and labels shown
about prices and dates, and :mod:`~flask_paylinks.web.rendering.page_cache`
the rendered checkout pages kept per process.
"""
