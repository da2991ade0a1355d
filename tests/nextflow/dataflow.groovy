/*
 * Run a workflow's dataflow in memory, without Nextflow: channels are lists, each process
 * call checks every task's inputs against the process's declared inputs (tuple size,
 * path values that are files, arity) and makes outputs from its declared outputs, named
 * after a hash of the task's inputs (as Nextflow's work directories are). Tasks finish in
 * a random order (seeded) and `mix` interleaves at random, so a run shows whether the
 * inputs each task receives depend on the order in which other tasks finished.
 *
 * stdin: a list of requests {"workflow": "workflows/pixel2gene.nf", "name": "PIXEL2GENE", "lib": "lib",
 *         "params": {...}, "project_dir": "...", "rows": [samplesheet rows], "sheet": "/x/sheet.csv",
 *         "seeds": [1, 2], "globs": {"imported/*": ["cnts.h5ad", ...]}}
 * stdout: per request, one {"tasks": {"P2G_X": [{"inputs": ..., "dir": ...}, ...]}, "errors": [...],
 *         "topics": {"versions": [[process, tool, version], ...]}} per seed
 *
 * Operators emulated: map, flatMap, filter, join (remainder), combine (by), mix, groupTuple (size),
 * toSortedList, first, unique, collectFile; factories channel.of/fromList/empty/topic (a process's
 * outputs with `topic:` go to their topic).
 */
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.security.MessageDigest
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.stmt.BlockStatement
import org.codehaus.groovy.ast.stmt.ExpressionStatement
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

class Run {
    static Random rng
    static List<String> errors = []
    static Map<String, List> tasks = [:].withDefault { [] }
    static Map globs = [:]
    static Map<String, List> topics = [:].withDefault { [] }
    static String text(Object v) {
        if (v instanceof Path) return v.toString()
        if (v instanceof Map) return '{' + v.collect { k, x -> "${k}:${text(x)}" }.join(',') + '}'
        if (v instanceof Collection) return '[' + v.collect { x -> text(x) }.join(',') + ']'
        return String.valueOf(v)
    }
    static Object plain(Object v) {
        if (v instanceof Path) return v.toString()
        if (v instanceof Map) return v.collectEntries { k, x -> [k.toString(), plain(x)] }
        if (v instanceof Collection) return v.collect { x -> plain(x) }
        if (v instanceof GString) return v.toString()
        return v
    }
}

// A channel: its items in the order they arrive; a value channel holds one item, read by every task.
class Ch {
    List items
    boolean value = false
    Ch(List items, boolean value = false) { this.items = items; this.value = value }

    private static Object apply(Closure c, Object item) {
        (c.maximumNumberOfParameters > 1 && item instanceof List) ? c.call(*item) : c.call(item)
    }
    private static List tuple(Object x) { x instanceof List ? x : [x] }

    Ch map(Closure c) { new Ch(items.collect { x -> apply(c, x) }, value) }
    Ch filter(Closure c) { new Ch(items.findAll { x -> apply(c, x) }, value) }
    Ch first() { new Ch(items ? [items[0]] : [], true) }
    Ch unique() { new Ch(items.unique(false), value) }
    Ch mix(Ch... others) {
        def all = items + others.collectMany { o -> o.items }
        Collections.shuffle(all, Run.rng)
        new Ch(all)
    }
    Ch flatMap(Closure c) { new Ch(items.collectMany { x -> apply(c, x) as List }) }
    Ch combine(Map opts = [:], Ch other) {
        if (opts.by == null) {
            return new Ch(items.collectMany { x -> other.items.collect { y -> tuple(x) + tuple(y) } }, value && other.value)
        }
        int k = opts.by as int  // pairs of items with the same element k: every pair, that element once
        def pairs = items.collectMany { x ->
            other.items.findAll { y -> tuple(y)[k] == tuple(x)[k] }.collect { y ->
                def a = tuple(x), b = tuple(y)
                [a[k]] + a.withIndex().findAll { v, i -> i != k }*.get(0) + b.withIndex().findAll { v, i -> i != k }*.get(0)
            }
        }
        Collections.shuffle(pairs, Run.rng)
        new Ch(pairs)
    }
    Ch join(Map opts = [:], Ch other) {
        def left = items.collect { x -> tuple(x) }
        def right = other.items.collect { y -> tuple(y) }
        def used = new boolean[right.size()]
        def out = []
        left.each { x ->
            def j = (0..<right.size()).find { k -> !used[k] && right[k][0] == x[0] }
            if (j != null) {
                used[j] = true
                out << x + right[j].drop(1)
            } else if (opts.remainder) {
                out << x + [null] * ((right ? right[0].size() : 2) - 1)
            }
        }
        if (opts.remainder) {
            right.eachWithIndex { y, k ->
                if (!used[k]) out << [y[0]] + [null] * ((left ? left[0].size() : 2) - 1) + y.drop(1)
            }
        }
        Collections.shuffle(out, Run.rng)
        new Ch(out)
    }
    Ch groupTuple(Map opts = [:]) {
        def groups = new LinkedHashMap()
        items.collect { x -> tuple(x) }.each { x ->
            def g = groups.computeIfAbsent(x[0]) { [] }
            g << x.drop(1)
        }
        def out = groups.collect { k, rows ->
            if (opts.size && rows.size() != opts.size) {
                Run.errors << "groupTuple(size: ${opts.size}) got ${rows.size()} items for key ${Run.text(k)}"
            }
            def width = rows[0].size()
            [k] + (0..<width).collect { i -> rows.collect { r -> r[i] } }
        }
        new Ch(out)
    }
    Ch toSortedList(Closure c) { new Ch([items.toSorted(c)], true) }
    Ch collectFile(Map opts) { new Ch([Paths.get("/work/collectFile/${opts.name}")], true) }
}

class ChannelFactory {
    Ch empty() { new Ch([]) }
    Ch of(Object... xs) { new Ch(xs as List) }
    Ch fromList(List xs) { new Ch(new ArrayList(xs)) }
    Ch topic(String name) { new Ch(new ArrayList(Run.topics[name])) }  // read after every process has run
}

// An input variable inside a declaration: its name for val(x), its value inside "${x.id}".
class Sym {
    String name
    Object value
    boolean bound = true
    Object propertyMissing(String p) { bound ? value[p] : p }
    String toString() { bound ? String.valueOf(value) : name }
}

// Evaluates a process's declarations: bare names become their own names, as in Nextflow's DSL.
class DeclBinding extends Binding {
    DeclBinding(Map vars) { super(vars.collectEntries { k, v -> [k, new Sym(name: k, value: v)] }) }
    Object getVariable(String name) { variables.containsKey(name) ? super.getVariable(name) : new Sym(name: name, bound: false) }
}

class Decl {
    String kind; String name; Map opts = [:]; List parts = []
}

abstract class DeclScript extends Script {
    Object tuple(Object... a) { new Decl(kind: 'tuple', parts: a.findAll { x -> x instanceof Decl } as List,
                                        opts: a.find { x -> x instanceof Map } ?: [:]) }
    Object val(Object... a) { component('val', a) }
    Object path(Object... a) { component('path', a) }
    Object env(Object... a) { component('env', a) }
    Object eval(Object... a) { component('eval', a) }
    private Decl component(String kind, Object[] a) {
        def opts = a.find { x -> x instanceof Map } ?: [:]
        def rest = a.findAll { x -> !(x instanceof Map) }
        def name = rest ? (rest[0] instanceof Sym ? rest[0].name : rest[0].toString()) : null
        new Decl(kind: kind, name: name, opts: opts)
    }
}

class Process {
    String name
    List<String> inputSource
    List<String> outputSource
    ClassLoader loader
    Map out = [:]

    private static Map<String, Class> compiled = [:]

    // Each declaration is compiled once and run with the task's variables.
    private List<Decl> evaluate(List<String> lines, Map vars) {
        lines.collect { line ->
            def cls = compiled.computeIfAbsent(line) { text ->
                def config = new org.codehaus.groovy.control.CompilerConfiguration()
                config.scriptBaseClass = DeclScript.name
                new GroovyShell(loader, new Binding(), config).parse(text).getClass()
            }
            def script = cls.getDeclaredConstructor().newInstance()
            script.binding = new DeclBinding(vars)
            script.run()
        }.findAll { d -> d instanceof Decl }
    }

    private static String hash(String s) {
        MessageDigest.getInstance('MD5').digest(s.bytes).encodeHex().toString().take(8)
    }

    private static boolean isFile(Object v) { v instanceof Path }

    private void check(Decl d, Object v, int task, Map vars) {
        if (d.kind == 'val' || d.kind == 'env') {
            vars[d.name] = v
            return
        }
        def arity = d.opts.arity
        def files = v instanceof Collection ? v : [v]
        if (!files.every { f -> isFile(f) }) {
            Run.errors << "${name} task ${task}: path input '${d.name}' got ${Run.text(v)} (not files)"
        }
        if (arity && arity.toString().startsWith('1') && files.isEmpty()) {
            Run.errors << "${name} task ${task}: path input '${d.name}' (arity ${arity}) got no files"
        }
        vars[d.name] = v
    }

    Object call(Object... args) {
        Run.tasks[name]  // a process that runs no task is listed too
        def inputs = evaluate(inputSource, [:])
        if (args.size() != inputs.size()) {
            Run.errors << "${name}: ${inputs.size()} inputs, called with ${args.size()}"
            return this
        }
        def channels = args.collect { a -> a instanceof Ch ? a : new Ch([a], true) }
        def queues = channels.findAll { c -> !c.value }
        def n = queues ? queues.collect { c -> c.items.size() }.min() : (channels.every { c -> c.items } ? 1 : 0)
        def results = []
        (0..<n).each { t ->
            def vars = [:]
            def values = channels.collect { c -> c.value ? c.items[0] : c.items[t] }
            inputs.eachWithIndex { Decl d, int i ->
                def v = values[i]
                if (d.kind == 'tuple') {
                    if (!(v instanceof List) || v.size() != d.parts.size()) {
                        Run.errors << "${name} task ${t}: tuple of ${d.parts.size()} got ${Run.text(v)}"
                        return
                    }
                    d.parts.eachWithIndex { Decl p, int j -> check(p, v[j], t, vars) }
                } else {
                    check(d, v, t, vars)
                }
            }
            def dir = "/work/${name}/${hash(Run.text(values))}"
            Run.tasks[name] << [inputs: Run.plain(values), dir: dir]
            def made = [:]
            // task.process as Nextflow names it inside the workflow; an eval output's command is not run
            evaluate(outputSource, vars + [task: [process: "PIXEL2GENE:${name}".toString()]]).each { Decl d ->
                def emit = d.opts.emit?.toString()
                def parts = d.kind == 'tuple' ? d.parts : [d]
                def item = parts.collect { Decl p ->
                    if (p.kind == 'val') return vars.containsKey(p.name) ? vars[p.name] : p.name
                    if (p.kind == 'eval') return 'version'
                    def glob = Run.globs[p.name]
                    glob != null ? glob.collect { f -> Paths.get("${dir}/${p.name.replace('*', '')}${f}") }
                                 : Paths.get("${dir}/${p.name}")
                }
                made[emit] = d.kind == 'tuple' ? item : item[0]
                if (d.opts.topic) Run.topics[d.opts.topic.toString()] << made[emit]
            }
            results << made
        }
        Collections.shuffle(results, Run.rng)  // tasks finish in any order
        def value = queues.isEmpty()
        def emits = evaluate(outputSource, [:]).collect { d -> d.opts.emit?.toString() }
        emits.each { e -> out[e] = new Ch(results.collect { r -> r[e] }, value) }
        this
    }
}

// The input:/output: statements of every process in a module file, as source lines.
def sections(String file) {
    def lines = new File(file).readLines()
    def cu = new CompilationUnit()
    cu.addSource(new File(file))
    cu.compile(Phases.CONVERSION)
    def found = [:]
    cu.AST.modules[0].statementBlock.statements.each { st ->
        def e = st instanceof ExpressionStatement ? st.expression : null
        if (!(e instanceof MethodCallExpression) || e.methodAsString != 'process') return
        def inner = e.arguments.expressions[0]
        def body = inner.arguments.expressions.find { it instanceof ClosureExpression }
        def current = null
        def secs = [:].withDefault { [] }
        (body.code as BlockStatement).statements.each { s ->
            if (s.statementLabels) current = s.statementLabels[0]
            if (current in ['input', 'output']) {
                secs[current] << lines[(s.lineNumber - 1)..(s.lastLineNumber - 1)].join('\n').replaceFirst(/^\s*(input|output):\s*\n/, '')
            }
        }
        found[inner.methodAsString] = secs
    }
    found
}

// What Nextflow adds to Path: name, text, exists() and isDirectory().
ExpandoMetaClass.enableGlobally()
Path.metaClass.getName = { -> delegate.fileName.toString() }
Path.metaClass.getText = { -> new String(Files.readAllBytes(delegate)) }
Path.metaClass.exists = { -> Files.exists(delegate) }
Path.metaClass.isDirectory = { -> Files.isDirectory(delegate) }

def emulate(Map req) {
    Run.globs = req.globs ?: [:]
    def loader = new GroovyClassLoader(this.class.classLoader)
    new File(req.lib).eachFileMatch(~/.*\.groovy/) { f -> loader.parseClass(f) }

    // The samples as main.nf makes them from the sheet's rows.
    def samplesheet = loader.loadClass('Samplesheet')
    def sheet = samplesheet.read(req.rows, req.sheet, { p -> Files.isDirectory(Paths.get(p)) })
    if (!sheet.errors) {  // and the paths that do not exist, as main.nf checks them
        def exists = { p -> Files.exists(Paths.get(p)) }
        sheet.errors = samplesheet.missing(sheet.samples, exists, { String p ->
            def dir = Paths.get(p.substring(0, p.lastIndexOf('/') + 1))
            Files.isDirectory(dir) && Files.list(dir).withCloseable { st -> st.anyMatch { f -> f.toString().startsWith(p) } }
        }) ?: loader.loadClass('TenxInputs').missing(sheet.samples, exists)
    }

    def wfText = new File(req.workflow).text
    def modules = [:]
    (wfText =~ /include \{\s*(\w+)\s*\} from '([^']+)'/).each { all, procName, from ->
        modules[procName] = sections(new File(new File(req.workflow).parentFile, from + '.nf').path)[procName]
    }
    // The workflow as a Groovy method: its take: names become parameters, includes go.
    def m = wfText =~ /(?s)workflow\s+${req.name}\s*\{\s*take:\s*(.*?)\s*main:/
    def takes = m[0][1].readLines().collect { l -> l.replaceAll(/\/\/.*/, '').trim() }.findAll { l -> l }
    def script = wfText.replaceAll(/include \{[^}]*\} from '[^']*'\n/, '')
        .replaceFirst(/workflow\s+${req.name}\s*\{/, "def ${req.name}(${takes.join(', ')}) {")

    def runs = req.seeds.collect { seed ->
        Run.rng = new Random(seed as long)
        Run.errors = []
        Run.tasks = [:].withDefault { [] }
        Run.topics = [:].withDefault { [] }
        def processes = modules.collectEntries { name, secs ->
            [name, new Process(name: name, inputSource: secs.input, outputSource: secs.output, loader: loader)]
        }
        def binding = new Binding([params: req.params, projectDir: req.project_dir, channel: new ChannelFactory()] + processes)
        binding.setVariable('file', { Object... a ->
            def opts = a.find { x -> x instanceof Map } ?: [:]
            def path = Paths.get(a.find { x -> !(x instanceof Map) }.toString())
            if (opts.checkIfExists && !Files.exists(path)) Run.errors << "file(${path}): does not exist"
            path
        })
        binding.setVariable('files', { Object... a ->
            def opts = a.find { x -> x instanceof Map } ?: [:]
            def text = a.find { x -> !(x instanceof Map) }.toString()
            def dir = Paths.get(text.substring(0, text.lastIndexOf('/') + 1))
            def stem = text.substring(text.lastIndexOf('/') + 1).replace('*', '')
            Files.isDirectory(dir) ? Files.list(dir).withCloseable { st -> st.toList() }
                .findAll { p -> p.fileName.toString().startsWith(stem) && (opts.type != 'file' || Files.isRegularFile(p)) }
                .sort { p -> p.toString() } : []
        })
        binding.setVariable('error', { Object msg -> throw new IllegalStateException(msg.toString()) })
        try {
            if (sheet.errors) throw new IllegalStateException("samplesheet: ${sheet.errors}")
            def wf = new GroovyShell(loader, binding).parse(script)
            wf.run()
            wf.invokeMethod(req.name, [new Ch(sheet.samples)] as Object[])
        } catch (Throwable e) {
            Run.errors << "${e.class.simpleName}: ${e.message}"
        }
        [tasks: Run.tasks, errors: Run.errors, topics: Run.plain(Run.topics)]
    }
    runs
}

println JsonOutput.toJson(new JsonSlurper().parse(System.in).collect { req -> emulate(req) })
