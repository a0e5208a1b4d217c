from django.core.exceptions import ValidationError


def error_codes(exc: ValidationError) -> set[str]:
    """Return every code a ValidationError carries, field errors included."""
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


def nested_forms(html: str) -> int:
    """Return how many <form> tags open inside another form (invalid HTML:
    browsers drop the inner tag, and whatever it meant to post goes with the
    outer form)."""
    from html.parser import HTMLParser

    class Forms(HTMLParser):
        depth = nested = 0

        def handle_starttag(self, tag, attrs):
            if tag == "form":
                self.nested += self.depth > 0
                self.depth += 1

        def handle_endtag(self, tag):
            if tag == "form":
                self.depth = max(self.depth - 1, 0)

    parser = Forms()
    parser.feed(html)
    return parser.nested
