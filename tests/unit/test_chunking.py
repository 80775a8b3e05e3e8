"""How prepared cards are cut into requests: the marketplace's card limit and body limit, in order."""

from adolf.adapters.base import CardContent, CardUpdate, PreparedCard, chunked, json_array


def card(sku: str, size: int = 10) -> PreparedCard:
    return PreparedCard(CardUpdate(sku=sku, content=CardContent(title="t", description="d")), {"x": "a" * size})


def test_requests_hold_at_most_the_card_limit_in_order():
    cards = [card(str(i)) for i in range(7)]
    assert [[c.sku for c in chunk] for chunk in chunked(cards, 3)] == [["0", "1", "2"], ["3", "4", "5"], ["6"]]


def test_requests_stay_within_the_body_limit_counting_the_json_array_around_them():
    cards = [card(str(i), size=92) for i in range(5)]  # each element is 100 bytes: {"x":"a..."}
    assert len(cards[0].body) == 100
    chunks = chunked(cards, 3000, max_bytes=305)
    assert [len(chunk) for chunk in chunks] == [3, 2]
    assert all(len(json_array(chunk)) <= 305 for chunk in chunks)


def test_a_single_card_over_the_body_limit_still_goes_alone():
    assert [len(chunk) for chunk in chunked([card("big", 500), card("small")], 10, max_bytes=100)] == [1, 1]
