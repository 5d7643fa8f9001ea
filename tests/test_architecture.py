"""The package's layers point one way (docs/architecture.md), with no cycles, and one
method never imports another. Read from the source (every import statement, also those
inside functions), so a late import cannot hide a dependency."""
import ast
import os
import os.path as osp

from .conftest import REPO

PACKAGE = osp.join(REPO, 'langseg')

#: The layers, bottom first; a module may import its own layer's unit only if it is the
#: same unit (listed in SAME_LAYER_ALLOWED otherwise) and any lower layer.
LAYERS = [
    {'version', 'registry', 'utils'},
    {'models.layers'},
    {'models.clip'},
    {'models.backbones', 'models.necks', 'models.heads', 'models.losses', 'datasets',
     'evaluation'},
    {'models.segmentors', 'converters'},
    {'methods'},
    {'engine', 'apis'},
]
SAME_LAYER_ALLOWED = {
    ('models.necks', 'models.losses'),      # a fusion module builds its own losses
    ('apis', 'engine'),                     # the inference API loads configs like the tools
}
#: The methods' own modules: none may import another's.
METHOD_MODULES = {
    'denseclip': {'models.necks.denseclip'},
    'convformer': {'models.necks.convformer'},
    'clip_sp': {'models.necks.clip_sp'},
    'segclip': {'methods.segclip', 'methods.segclip.encoder', 'methods.segclip.zeroshot',
                'methods.segclip.pretrain', 'methods.segclip.losses',
                'methods.segclip.image_text_data', 'methods.segclip.convert'},
    'proxyclip': {'models.segmentors.proxyclip'},
}


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
            if dst is None:   # the root registers everything: only the top layer may
                if _layer(src) < len(LAYERS) - 1:
                    wrong.append(f'{module} imports the package root')
                continue
            if dst in ('models', src):
                continue
            ok = _layer(dst) < _layer(src) or (src, dst) in SAME_LAYER_ALLOWED
            if not ok:
                wrong.append(f'{module} -> {target}')
    assert not wrong, 'imports against the layers:\n' + '\n'.join(sorted(wrong))


def test_one_method_never_imports_another():
    owner = {m: method for method, mods in METHOD_MODULES.items() for m in mods}
    wrong = []
    for module, path in _modules():
        mine = owner.get(module[len('langseg.'):])
        if mine is None:
            continue
        for target in _imports(module, path):
            theirs = owner.get(target[len('langseg.'):])
            if theirs is not None and theirs != mine:
                wrong.append(f'{module} ({mine}) -> {target} ({theirs})')
    assert not wrong, '\n'.join(wrong)


def test_the_layer_check_sees_late_imports(tmp_path):
    """The parser finds an import inside a function body (so the check can fail)."""
    path = tmp_path / 'mod.py'
    path.write_text('def f():\n    from ...engine.launch import train\n')
    assert _imports('langseg.models.clip.mod', str(path)) == {'langseg.engine.launch'}
