/*
 * Render a process's `script:` block (its `def` lines and the command string) the way
 * Nextflow would for given inputs, so that tests can check the command lines a module
 * really produces, and render config closures such as ext.args.
 *
 * stdin: [{"file": "modules/local/x/main.nf", "process": "P2G_X", "binding": {...}}, ...]
 *        or {"expression": "{ \"--a ${params.b}\" }", "binding": {...}} for a closure's value.
 * In a binding, {"path": "a/b"} stands for a staged file and {"paths": [...]} for a list of
 * staged files (rendered blank-separated, as Nextflow does).
 * stdout: [{"script": "..."} or {"error": "..."}, ...]
 */
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.ast.ClassCodeExpressionTransformer
import org.codehaus.groovy.ast.ClassHelper
import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.expr.ArgumentListExpression
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.GStringExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.StaticMethodCallExpression
import org.codehaus.groovy.ast.stmt.BlockStatement
import org.codehaus.groovy.ast.stmt.ExpressionStatement
import org.codehaus.groovy.classgen.GeneratorContext
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilePhase
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.SourceUnit
import org.codehaus.groovy.control.customizers.CompilationCustomizer

class StagedFile {
    String path
    String getName() { path.substring(path.lastIndexOf('/') + 1) }
    StagedFile getParent() { new StagedFile(path: path.contains('/') ? path.substring(0, path.lastIndexOf('/')) : '.') }
    String toString() { path }
}

// Nextflow renders a list of staged files blank-separated (its BlankSeparatedList).
class StagedList extends ArrayList implements Writable {
    StagedList(Collection c) { super(c) }
    String toString() { join(' ') }
    Writer writeTo(Writer out) { out.write(join(' ')); out }
}

// Nextflow rewrites every value interpolated into a task's command string so that staged
// file lists render blank-separated (LangHelpers.applyPathEscapeAware); this does the same.
class Render {
    static Object apply(Object v) { (v instanceof StagedList || v instanceof StagedFile) ? v.toString() : v }
}

class RenderCustomizer extends CompilationCustomizer {
    RenderCustomizer() { super(CompilePhase.CONVERSION) }
    void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
        def t = new ClassCodeExpressionTransformer() {
            SourceUnit getSourceUnit() { source }
            Expression transform(Expression e) {
                if (e instanceof GStringExpression) {
                    def values = e.values.collect { v ->
                        new StaticMethodCallExpression(ClassHelper.make(Render), 'apply', new ArgumentListExpression(transform(v)))
                    }
                    return new GStringExpression(e.text, e.strings, values)
                }
                e.transformExpression(this)
            }
        }
        t.visitClass(classNode)
    }
}

def value(Object v) {
    if (v instanceof Map && v.keySet() == ['path'] as Set) return new StagedFile(path: v.path)
    if (v instanceof Map && v.keySet() == ['paths'] as Set) return new StagedList(v.paths.collect { p -> new StagedFile(path: p) })
    if (v instanceof Map) return v.collectEntries { k, x -> [k, value(x)] }
    if (v instanceof List) return v.collect { x -> value(x) }
    v
}

// The source lines of a process's script: section (from its first to its last statement).
def scriptSource(String file, String process) {
    def lines = new File(file).readLines()
    def cu = new CompilationUnit()
    cu.addSource(new File(file))
    cu.compile(Phases.CONVERSION)
    def module = cu.AST.modules[0]
    def body = null
    module.statementBlock.statements.each { st ->
        def e = st instanceof ExpressionStatement ? st.expression : null
        if (e instanceof MethodCallExpression && e.methodAsString == 'process') {
            def inner = e.arguments.expressions[0]
            if (inner instanceof MethodCallExpression && inner.methodAsString == process) {
                body = inner.arguments.expressions.find { it instanceof ClosureExpression }
            }
        }
    }
    if (body == null) throw new IllegalArgumentException("no process ${process} in ${file}")
    def statements = (body.code as BlockStatement).statements
    def current = null
    def mine = []
    statements.each { st ->
        if (st.statementLabels) current = st.statementLabels[0]
        if (current == 'script') mine << st
    }
    def first = mine[0].lineNumber
    def last = mine[-1].lastLineNumber
    def text = lines[(first - 1)..(last - 1)]
    text[0] = text[0].replaceFirst(/^\s*script:\s*$/, '')
    text.join('\n')
}

def calls = new JsonSlurper().parse(System.in)
def out = calls.collect { c ->
    try {
        def binding = new Binding(value(c.binding ?: [:]))
        def config = new CompilerConfiguration()
        config.addCompilationCustomizers(new RenderCustomizer())
        def shell = new GroovyShell(this.class.classLoader, binding, config)
        if (c.expression) {
            def closure = shell.evaluate(c.expression)
            def result = closure instanceof Closure ? closure.call() : closure
            return [script: result?.toString()]
        }
        [script: shell.evaluate(scriptSource(c.file, c.process)).toString()]
    } catch (Throwable e) {
        [error: "${e.class.simpleName}: ${e.message}"]
    }
}
println JsonOutput.toJson(out)
