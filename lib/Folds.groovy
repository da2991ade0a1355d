/*
 * Spatial folds: how they are split over training tasks, and one order for every list of
 * per-fold results, so that a run gathers them the same way however its tasks finish.
 */
class Folds {

    // Params may arrive as strings from the command line (strict syntax does not cast them).
    static int count(Object value) {
        value.toString().trim().toInteger()
    }

    // n folds in tasks of `perTask` folds: (10, 4) -> ['0,1,2,3', '4,5,6,7', '8,9'].
    static List<String> groups(Object nFolds, Object perTask) {
        def n = count(nFolds)
        def per = count(perTask)
        if (n < 1 || per < 1) {
            throw new IllegalArgumentException("folds (${n}) and folds per task (${per}) must be at least 1")
        }
        (0..<n).collate(per).collect { group -> group.join(',') }
    }

    // Fold groups ordered by their folds as numbers: '2' < '10', '0,1' < '2,3'.
    static int compare(String a, String b) {
        def x = a.tokenize(',').collect { f -> f.toInteger() }
        def y = b.tokenize(',').collect { f -> f.toInteger() }
        for (int i = 0; i < Math.min(x.size(), y.size()); i += 1) {
            if (x[i] != y[i]) {
                return x[i] <=> y[i]
            }
        }
        x.size() <=> y.size()
    }
}
