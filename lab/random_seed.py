"""The range of a random seed everywhere in IF-Lab (sampling, data order, bootstrap): what numpy's and Python's
seeding accept. Its own tiny module so config classes can bound their seed fields without importing lab.models."""

MAX_SEED = 2**32 - 1
