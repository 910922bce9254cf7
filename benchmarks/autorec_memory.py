"""Peak memory of one I-AutoRec epoch on MovieLens-20M-shaped synthetic data.

    python -m benchmarks.autorec_memory [--scale 1.0] [--epochs 1]

The synthetic ratings (138,493 users x 26,744 films, 20M ratings at scale 1) are generated in
a child process and handed over as a sparse film x user matrix, so that the figure measured
here is the training's own: the process's peak resident set size (``ru_maxrss``), which
includes TensorFlow itself, the sparse matrix and the network with its Adam state.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _make_matrix(scale: float, path: str) -> None:
    import numpy as np
    import scipy.sparse as sp

    from coursekit.data import synthetic_movielens

    ratings = synthetic_movielens(scale=scale, seed=0).ratings
    users, user_index = np.unique(ratings["user"].to_numpy(), return_inverse=True)
    items, item_index = np.unique(ratings["item"].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix((ratings["rating"].to_numpy(np.float32), (item_index, user_index)),
                           shape=(items.size, users.size))
    sp.save_npz(path, matrix, compressed=False)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def run(scale: float = 1.0, epochs: int = 1, max_ratings: int = 16_384) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "ratings.npz")
        started = time.perf_counter()
        child = mp.get_context("spawn").Process(target=_make_matrix, args=(scale, path))
        child.start()
        child.join()
        if child.exitcode:
            raise RuntimeError(f"generating the synthetic ratings failed ({child.exitcode})")
        generated = time.perf_counter() - started
        import scipy.sparse as sp

        matrix = sp.load_npz(path).tocsr()
    import tensorflow as tf

    from coursekit.models.autoencoders import AutoRec, dense_size_gb

    tf.config.threading.set_inter_op_parallelism_threads(1)  # one large temporary at a time
    before = peak_rss_gb()
    shape, nnz = matrix.shape, int(matrix.nnz)
    model = AutoRec(orientation="item", hidden_units=(500,), seed=0)
    trainer = model.sparse_trainer(matrix, max_ratings=max_ratings)
    del matrix  # TensorFlow holds its own copy
    started = time.perf_counter()
    logs = [trainer.train_epoch(progress=True) for _ in range(epochs)]
    seconds = time.perf_counter() - started
    return {
        "model": "I-AutoRec (500 sigmoid units), sparse row-wise Adagrad updates",
        "films": shape[0], "users": shape[1], "ratings": nnz,
        "epochs": epochs, "max_ratings_per_batch": max_ratings,
        "batches_per_epoch": logs[-1]["batches"],
        "seconds_generating": round(generated, 1),
        "seconds_per_epoch": round(seconds / epochs, 1),
        "ratings_per_second": round(nnz * epochs / seconds),
        "training_rmse_per_epoch": [round(log["rmse"], 4) for log in logs],
        "peak_rss_gb_before_training": round(before, 2),
        "peak_rss_gb": round(peak_rss_gb(), 2),
        "dense_matrix_gb_avoided": round(dense_size_gb(*shape), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-ratings", type=int, default=16_384,
                        help="ratings per batch at most")
    parser.add_argument("--output", type=Path,
                        default=Path("benchmarks/results/autorec_memory.json"))
    args = parser.parse_args()
    result = run(args.scale, args.epochs, args.max_ratings)
    for key, value in result.items():
        print(f"{key:>30}: {value}")
    verdict = "under" if result["peak_rss_gb"] < 3.0 else "OVER"
    print(f"peak resident memory {result['peak_rss_gb']} GB, {verdict} the 3 GB budget; a dense "
          f"float32 films x users matrix alone would take {result['dense_matrix_gb_avoided']} GB")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
