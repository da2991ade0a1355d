/*
 * Call static methods of the pipeline's lib/ classes from JSON, for unit tests in Python.
 * stdin: [{"class": "Samplesheet", "method": "resolve", "args": [...]}, ...]
 * An argument {"dirs": [...]} becomes a closure telling whether a path is one of those
 * directories (with or without its trailing '/'), {"files": [...]} one telling whether a path
 * is one of those files or a folder above one, {"prefix_of": [...]} whether a prefix starts
 * one of them: stand-ins for Nextflow's file systems. {"on_disk": true} asks the local disk.
 * stdout: [{"result": ...} or {"error": "...", "type": "..."}, ...]
 * Usage: java -cp groovy-4.x.jar:groovy-json-4.x.jar groovy.ui.GroovyMain lib_call.groovy LIBDIR
 */
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

def loader = new GroovyClassLoader(this.class.classLoader)
new File(args[0]).eachFileMatch(~/.*\.groovy/) { f -> loader.parseClass(f) }

def argument(Object a) {
    if (a instanceof Map && a.keySet() == ['dirs'] as Set) {
        def dirs = a.dirs.collect { d -> d.endsWith('/') ? d : d + '/' }
        return { String p -> (p.endsWith('/') ? p : p + '/') in dirs }
    }
    if (a instanceof Map && a.keySet() == ['files'] as Set) {  // exists(path): a listed file, or a folder above one
        return { String p -> a.files.any { f -> f == p || f.startsWith(p.endsWith('/') ? p : p + '/') } }
    }
    if (a instanceof Map && a.keySet() == ['on_disk'] as Set) {  // exists(path) on this machine's disk
        return { String p -> new File(p).exists() }
    }
    if (a instanceof Map && a.keySet() == ['prefix_of'] as Set) {  // anyFile(prefix): a listed file starts with it
        return { String p -> a.prefix_of.any { f -> f.startsWith(p) } }
    }
    a
}

// Paths are Iterable (of their name parts): return them as the strings they stand for.
def plain(Object r) {
    if (r instanceof java.nio.file.Path) return r.toString()
    if (r instanceof Map) return r.collectEntries { k, v -> [k, plain(v)] }
    if (r instanceof List) return r.collect { v -> plain(v) }
    r
}

def calls = new JsonSlurper().parse(System.in)
def out = calls.collect { c ->
    try {
        def cls = loader.loadClass(c['class'])
        [result: plain(cls."${c.method}"(*c.args.collect { a -> argument(a) }))]
    } catch (Exception e) {
        [error: e.message, type: e.class.simpleName]
    }
}
println JsonOutput.toJson(out)
