/*
 * What a task must stage besides its inputs so that a container can read them.
 *
 * p2g-import links he-raw to the user's image instead of copying it. Docker mounts only the
 * folders of a task's inputs, so a link whose target is elsewhere dangles inside the
 * container; staging the target as well mounts its folder. On object stores (S3, GCS)
 * outputs are uploaded as plain files and there is no link to follow.
 */
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

class Staging {

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
