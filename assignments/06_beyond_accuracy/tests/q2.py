from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_behind_is_excluded(choose_beta):
    got = choose_beta({0.0: (0.2, 'level'), 0.5: (0.3, 'level'), 1.0: (0.5, 'behind')})
    assert got == 0.5, f'choose_beta gave {got} for {{0: (0.2, level), 0.5: (0.3, level), 1: (0.5, behind)}}; expected 0.5: 1.0 covers more but is behind on hit rate'

