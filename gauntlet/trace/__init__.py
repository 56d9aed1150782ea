"""Traceability: which scenario mirrors each requirement item, and how it last fared.

`catalogue` knows the items (catalogue.json) and finds the scenarios tagged `@trace.<id>`;
`report` reads the run journals and renders `gauntlet trace` (`report.main`).
`build_catalogue` re-derives the parsed part of catalogue.json from the documents.
"""
