from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_hit_rate_per_dim(validation_hr, best_dim, DIM_GRID):
    assert isinstance(validation_hr, dict) and sorted(validation_hr) == sorted(DIM_GRID), f'validation_hr should be a dict with one entry per dimension of DIM_GRID {DIM_GRID}; it is {validation_hr!r}'
    highest = max(validation_hr, key=validation_hr.get)
    assert best_dim == highest, f'best_dim is {best_dim}, but the highest validation hit rate is at {highest}: a hit rate is better when higher'

