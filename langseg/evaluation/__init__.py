from .flops import count_segmentor, flop_analysis
from .multilabel import MultiLabelMAP, average_precision, present_classes

__all__ = ['MultiLabelMAP', 'average_precision', 'count_segmentor', 'flop_analysis',
           'present_classes']
