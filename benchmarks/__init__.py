import json


def report(results: dict, out=None):
    """A benchmark's results as JSON: printed, and written to `out` when given."""
    text = json.dumps(results, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")
