/*
 * What a task must stage besides its inputs so that a container can read them.
 *
 * p2g-import links he-raw to the user's image instead of copying it. Docker mounts only the
 * folders of a task's inputs, so a link whose target is elsewhere dangles inside the
 * container; staging the target as well mounts its folder. On object stores (S3, GCS)
 * outputs are uploaded as plain files and there is no link to follow.
 *
 * A MIRAX slide (.mrxs) is a file and a folder of the same name beside it (Slidedat.ini and the
 * tiles): a task given only the file cannot open it, so the folder is staged with it.
 */
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

class Staging {

    // pixel2gene/io/sample.py's IMAGE_ENDINGS, in its order (tests/test_pipeline_lib.py compares them): a sample's
    // he-raw is the first of these names that exists, as p2g-rescale picks it.
    static final List<String> HE_RAW_ENDINGS = ['.ome.tif', '.tif', '.tiff', '.btf', '.jpg', '.jpeg', '.png', '.svs',
                                                '.ndpi', '.vms', '.vmu', '.scn', '.mrxs', '.svslide', '.bif', '.czi']

    // The names a sample's he-raw may have, in the order p2g-rescale tries them (Strings: `in` compares with equals()).
    static List<String> heRawNames(String stem) {
        HE_RAW_ENDINGS.collect { ending -> "${stem}he-raw${ending}".toString() }
    }

    // The data folders the MIRAX slides among `found` need: each .mrxs's own path without its ending.
    static List<String> slideFolders(List found) {
        found.collect { f -> f.toString() }.findAll { f -> f.toLowerCase().endsWith('.mrxs') }
            .collect { f -> f[0..<(f.length() - '.mrxs'.length())] }
    }

    // Every path that the symbolic links among `paths` lead through, to their final targets.
    static List<Path> linkTargets(List paths) {
        def targets = []
        paths.collect { p -> p instanceof Path ? p : Paths.get(p.toString()) }.each { Path p ->
            def hops = 0
            while (Files.isSymbolicLink(p) && hops < 40) {
                p = p.toAbsolutePath().parent.resolve(Files.readSymbolicLink(p)).normalize()
                targets << p
                hops += 1
            }
        }
        targets.unique()
    }
}
