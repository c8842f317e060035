"""Notifications: the outbox the engine writes with each change, and the dispatcher that delivers it.

`outbox` is the one place engine operations call to say something worth telling happened; it
writes rows in the caller's transaction. `dispatcher` claims rows, sends them through `channels`
outside any transaction and marks them; `rendering` turns a row into text with Jinja2.
"""
