"""The demo domain's tools: store, handlers, the tool catalog and their Temporal activities.

Deliberately empty of imports, so `activities.tools.catalog` can be imported by the workflow
without pulling in anything else.
"""
