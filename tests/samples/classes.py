class Shape:
    count = 0

    def __init__(self, name):
        self.name = name
        Shape.count += 1

    def describe(self):
        return f'{self.name} with area {self.area}'

    @property
    def area(self):
        return 0

    @classmethod
    def make(cls, *args):
        return cls(*args)

    @staticmethod
    def unit():
        return 1

    def __repr__(self):
        return f'{type(self).__name__}({self.name!r})'


class Rectangle(Shape):
    def __init__(self, width, height):
        super().__init__('rectangle')
        self._width = width
        self.height = height

    @property
    def width(self):
        return self._width

    @width.setter
    def width(self, value):
        self._width = value

    @property
    def area(self):
        return self.width * self.height


class Square(Rectangle):
    def __init__(self, side):
        super().__init__(side, side)
        self.name = 'square'

    def describe(self):
        base = super().describe()
        return base.upper()


def main():
    rect = Rectangle.make(2, 3)
    rect.width = 4
    square = Square(5)
    shapes = [rect, square]
    return [shape.describe() for shape in shapes], Shape.unit(), Square.unit(), repr(square)
