"""The package's layers point one way (docs/architecture.md), with no cycles, and one
method never imports another. Read from the source (every import statement, also those
inside functions), so a late import cannot hide a dependency."""
import ast
import os
import os.path as osp

from .conftest import REPO

PACKAGE = osp.join(REPO, 'langseg')

#: The layers, bottom first; a module may import its own layer's unit only if it is the
#: same unit (listed in SAME_LAYER_ALLOWED otherwise) and any lower layer. The methods
#: (``langseg/methods/<method>/``) sit on top: a method may import every shared layer,
#: nothing below imports a method (only the package root does, to register them).
LAYERS = [
    {'version', 'registry', 'utils'},
    {'models.layers'},
    {'models.clip'},
    {'models.backbones', 'models.heads', 'models.losses', 'datasets', 'evaluation'},
    {'models.segmentors'},
    {'engine', 'apis', 'converters'},
    {'methods'},
]
SAME_LAYER_ALLOWED = {
    ('apis', 'engine'),                     # the inference API loads configs like the tools
}
#: The methods: one folder each under langseg/methods/ (a method's modules are the modules
#: under its folder); none may import another's.
METHODS = sorted(d for d in os.listdir(osp.join(PACKAGE, 'methods'))
                 if osp.isfile(osp.join(PACKAGE, 'methods', d, '__init__.py')))
METHOD_MODULES = {m: {f'methods.{m}'} for m in METHODS}
#: Method modules not yet moved into a folder of their own.
METHOD_MODULES.setdefault('segclip', set()).update(
    {'models.segmentors.segclip', 'models.backbones.semantic_group_vit'})
METHOD_MODULES.setdefault('proxyclip', set()).add('models.segmentors.proxyclip')


def _modules():
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                rel = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
                if rel.endswith('.__init__'):
                    rel = rel[:-len('.__init__')]
                yield rel, path


def _imports(module: str, path: str) -> set[str]:
    """Absolute names of the langseg modules ``module`` imports."""
    tree = ast.parse(open(path).read())
    is_package = path.endswith('__init__.py')
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith('langseg'))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split('.')
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
                names = [f'{target}.{a.name}' for a in node.names] if not node.module \
                    else [target]
                found.update(names)
            elif node.module and node.module.startswith('langseg'):
                found.add(node.module)
    return found


def _unit(module: str) -> str | None:
    rest = module.split('.')[1:]
    if not rest:
        return None                                            # the package root
    if rest[0] == 'models' and len(rest) > 1:
        return f'models.{rest[1]}'
    return rest[0]


def _layer(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f'{unit} is in no layer of docs/architecture.md')


def test_imports_point_down_the_layers():
    wrong = []
    for module, path in _modules():
        src = _unit(module)
        if src is None or src == 'models':
            continue
        for target in _imports(module, path):
            dst = _unit(target)
            if dst is None:   # the root registers everything: only the entry points may
                if _layer(src) < _layer('engine'):
                    wrong.append(f'{module} imports the package root')
                continue
            if dst in ('models', src):
                continue
            ok = _layer(dst) < _layer(src) or (src, dst) in SAME_LAYER_ALLOWED
            if not ok:
                wrong.append(f'{module} -> {target}')
    assert not wrong, 'imports against the layers:\n' + '\n'.join(sorted(wrong))


def _method_of(module: str) -> str | None:
    """The method owning ``module`` (a ``langseg.``-less dotted name), or ``None``."""
    for method, prefixes in METHOD_MODULES.items():
        if any(module == p or module.startswith(p + '.') for p in prefixes):
            return method
    return None


def test_one_method_never_imports_another():
    assert {'denseclip', 'convformer', 'clip_sp'} <= set(METHODS)
    wrong = []
    for module, path in _modules():
        mine = _method_of(module[len('langseg.'):])
        if mine is None:
            continue
        for target in _imports(module, path):
            theirs = _method_of(target[len('langseg.'):])
            if theirs is not None and theirs != mine:
                wrong.append(f'{module} ({mine}) -> {target} ({theirs})')
    assert not wrong, '\n'.join(wrong)


def test_the_method_check_sees_a_sideways_import(tmp_path):
    """A module of one method folder importing another's is caught (so the check can
    fail): the ownership of both sides is read from the folder names."""
    assert _method_of('methods.clip_sp.fusion') == 'clip_sp'
    assert _method_of('methods.denseclip') == 'denseclip'
    assert _method_of('models.segmentors.language_guided') is None
    path = tmp_path / 'mod.py'
    path.write_text('from ..denseclip.fusion import DenseCLIPFusion\n')
    target, = _imports('langseg.methods.clip_sp.mod', str(path))
    assert _method_of(target[len('langseg.'):]) == 'denseclip'


def test_the_layer_check_sees_late_imports(tmp_path):
    """The parser finds an import inside a function body (so the check can fail)."""
    path = tmp_path / 'mod.py'
    path.write_text('def f():\n    from ...engine.launch import train\n')
    assert _imports('langseg.models.clip.mod', str(path)) == {'langseg.engine.launch'}
