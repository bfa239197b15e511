"""The canvas: a QGraphicsScene that follows the Document, and the view users draw on."""
