from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_proportional(popularity_sampler, np):
    draws = popularity_sampler(np.array([1, 3, 0, 6]), 1.0, 100000, np.random.default_rng(0))
    shares = np.bincount(draws, minlength=4) / len(draws)
    assert np.allclose(shares, [0.1, 0.3, 0.0, 0.6], atol=0.01), f"with beta=1 and counts [1, 3, 0, 6] the draws' shares are {np.round(shares, 3)}; expected about [0.1, 0.3, 0, 0.6]"

