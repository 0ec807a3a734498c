"""Pass 1 of the demo data: when each synthetic customer gets in touch.

Apart from the journeys (demo_journeys.py) because it only draws times: every customer's
contacts over the window, packed into one int each so a million sort fast and small, with
how busy each hour is and how often customers come back. Pass 2 unpacks them in time order.
"""

from __future__ import annotations

import itertools
import random

MAX_DAYS = 730  # contact times are packed in 26 bits of seconds
ANONYMOUS_SHARE = 0.12  # visitors who never say who they are (prospects)
# Customers' contacts: about 8 in a customer's life, weeks apart, unless something was left
# unresolved, when they come back within days about the same thing.
CHURN_PER_CONTACT = 0.12
MEAN_GAP_DAYS = 21.0
COME_BACK_SHARE = 0.18
# How busy each hour of the day is (relative), midnight first.
HOURLY = (2, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 19, 17, 17, 18, 18, 17, 16, 16, 17, 17, 14, 9, 5)
_HOURS = tuple(range(24))
_HOURLY_CUMULATIVE = tuple(itertools.accumulate(HOURLY))

# A contact packs into one int, so a million sort fast and small: seconds since the start |
# customer | the customer's contact number (capped) | comes back about it | is a repeat.
_CUSTOMER_BITS, _NTH_BITS = 24, 4


def _pack(second: int, customer: int, nth: int, comes_back: bool, repeat: bool) -> int:
    return (
        (((second << _CUSTOMER_BITS | customer) << _NTH_BITS | min(nth, 15)) << 2)
        | comes_back << 1
        | repeat
    )


def unpack(packed: int) -> tuple[int, int, int, bool, bool]:
    """A contact as (second, customer, nth, comes back, is a repeat), as ``schedule`` packed it."""
    repeat, comes_back = packed & 1, packed >> 1 & 1
    rest = packed >> 2
    nth = rest & (1 << _NTH_BITS) - 1
    rest >>= _NTH_BITS
    return (
        rest >> _CUSTOMER_BITS,
        rest & (1 << _CUSTOMER_BITS) - 1,
        nth,
        bool(comes_back),
        bool(repeat),
    )


def schedule(
    rng: random.Random, wanted: int, first_second: int, days: int
) -> tuple[list[int], bytearray]:
    """Every contact in the window, packed and sorted by time (exactly ``wanted`` of them),
    and which customers are anonymous visitors (1) by number.

    Times are seconds from the midnight before the window, which starts at ``first_second``.
    """
    span = first_second + days * 86_400
    lifetime = 200 * 86_400  # customers met before the window still get in touch in it
    contacts: list[int] = []
    anonymous_ones = bytearray()
    customer = 0
    while len(contacts) < wanted:
        if customer >= 1 << _CUSTOMER_BITS:
            raise ValueError("too many customers for one demo load; ask for fewer touchpoints")
        at = rng.uniform(first_second - lifetime, span)
        anonymous = rng.random() < ANONYMOUS_SHARE
        anonymous_ones.append(anonymous)
        nth, repeat, previous = 0, False, -1
        mine = []
        while at < span:
            comes_back = rng.random() < COME_BACK_SHARE
            if at >= first_second:
                # Ten minutes at least after their previous contact, so order and sessions hold.
                second = max(_business_like(rng, int(at)), previous + 600)
                if not first_second <= second < span:
                    break
                mine.append(_pack(second, customer, nth, comes_back, repeat))
                previous = second
            if anonymous and not comes_back:
                break  # visitors rarely return, unless something was left open
            if comes_back:
                at += rng.uniform(0.2, 6.5) * 86_400
                repeat = True
            else:
                if rng.random() < CHURN_PER_CONTACT:
                    break
                at += rng.expovariate(1 / (MEAN_GAP_DAYS * 86_400))
                repeat = False
            nth += 1
        contacts += mine[: wanted - len(contacts)]
        customer += 1
    contacts.sort()
    return contacts, anonymous_ones


def _business_like(rng: random.Random, second: int) -> int:
    """Move a moment to an hour of the same day drawn from how busy each hour is."""
    day = second - second % 86_400
    hour = rng.choices(_HOURS, cum_weights=_HOURLY_CUMULATIVE)[0]
    return day + hour * 3600 + rng.randrange(3600)
