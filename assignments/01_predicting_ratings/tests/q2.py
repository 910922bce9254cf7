from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_rmse_per_penalty(validation_rmse, L2_GRID):
    assert isinstance(validation_rmse, dict), f'validation_rmse is a {type(validation_rmse).__name__}; expected a dict from penalty to RMSE'
    assert sorted(validation_rmse) == sorted(L2_GRID), f'validation_rmse has the keys {sorted(validation_rmse)}; expected every penalty of L2_GRID, {L2_GRID}'

@test_case(points=None, hidden=False)
def test_best_is_lowest(validation_rmse, best_l2):
    lowest = min(validation_rmse, key=validation_rmse.get)
    assert best_l2 == lowest, f'best_l2 is {best_l2}, but the lowest validation RMSE in validation_rmse is at {lowest}'

