"""The superpixel model: an MLP per fold, stacked so all folds train as one."""
