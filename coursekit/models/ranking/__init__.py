"""Top-N lists from implicit feedback and sequences: EASE, implicit ALS, BCE and BPR models,
NeuMF, recent-item kNN, GRU4Rec, SASRec, and the ranker behind two-tower candidates."""
