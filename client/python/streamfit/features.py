"""Named features hashed by the client: the fast form of Features.named.

    user = streamfit.HashedNamespace("user")
    example = streamfit.pb2.Example(label=1.0)
    user.add(example.features, "alice")        # value 1
    user.add(example.features, "age", 0.31)

The server learns a hashed feature exactly as the named feature
{namespace, name, value}, without parsing or hashing a string: the hashes
are xxHash32 with the server's seeds (docs/LEARNING.md, "Feature hashing").
"""

import xxhash

# The seed of every namespace hash ("sfit"); a feature's seed is its
# namespace's hash.
HASH_SEED = 0x73666974


class HashedNamespace:
    """A feature namespace, its hash computed once."""

    def __init__(self, name: str):
        self.hash = xxhash.xxh32_intdigest(name.encode(), HASH_SEED)

    def add(self, features, name: str, value: float = 1.0) -> None:
        """Appends feature `name` of this namespace with `value` (0 means 1)
        to `features`, a streamfit.pb2.Features."""
        features.hashes.append(
            xxhash.xxh32_intdigest(name.encode(), self.hash))
        features.hashed_namespaces.append(self.hash)
        features.hashed_values.append(value)
